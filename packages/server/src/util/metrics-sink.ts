/**
 * What instrumented parts of the server (the timed store and bus, the
 * gateway, Delivery) report timings to, without knowing the metrics library.
 * The operations view (http/operations-api.ts) backs these with
 * DurationHistograms and exposes them to Prometheus when scraped.
 */

/** A distribution of durations. */
export interface Timing {
  /** Records `times` observations (default 1) of `seconds`: one push written to many connections is one call. */
  observe(seconds: number, times?: number): void;
}

/** Timings told apart by one label (store reads by method, bus events by type). */
export interface TimingFamily {
  /** The timing of one label value; callers on a hot path ask once and keep it. */
  of(label: string): Timing;
}
