/**
 * DurationHistogram: counts durations into fixed buckets, as a Prometheus
 * histogram does, but with no allocation per observation and with bulk
 * observations (a push written to a thousand connections is one call).
 * prom-client's own Histogram allocates on every observe, which the message
 * path cannot afford per delivery; the operations view reads these at scrape
 * time instead (http/operations-api.ts).
 */
import type { Timing, TimingFamily } from './metrics-sink.js';

export class DurationHistogram implements Timing {
  /** Observations per bucket: index i counts those in (bounds[i-1], bounds[i]]; the last, those above every bound. */
  private readonly counts: Float64Array;
  /** Sum of the observed durations, in seconds. */
  sum = 0;
  count = 0;

  /** `bounds`: the buckets' upper bounds in seconds, ascending. */
  constructor(readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(seconds: number, times = 1): void {
    const bounds = this.bounds;
    let index = 0;
    while (index < bounds.length && seconds > (bounds[index] as number)) index += 1;
    this.counts[index] = (this.counts[index] as number) + times;
    this.sum += seconds * times;
    this.count += times;
  }

  /** Observations at or below each bound (Prometheus's cumulative `le` buckets), in the order of `bounds`. */
  cumulative(): number[] {
    let total = 0;
    return this.bounds.map((_, index) => {
      total += this.counts[index] as number;
      return total;
    });
  }
}

/** One DurationHistogram per label value, made on first use. */
export class DurationHistograms implements TimingFamily {
  private readonly byLabel = new Map<string, DurationHistogram>();

  constructor(readonly bounds: readonly number[]) {}

  of(label: string): DurationHistogram {
    let histogram = this.byLabel.get(label);
    if (histogram === undefined) {
      histogram = new DurationHistogram(this.bounds);
      this.byLabel.set(label, histogram);
    }
    return histogram;
  }

  /** Label values seen so far, with their histograms. */
  entries(): IterableIterator<[string, DurationHistogram]> {
    return this.byLabel.entries();
  }
}
