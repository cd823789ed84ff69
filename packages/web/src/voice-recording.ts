/**
 * Recording a voice note in the browser: the microphone through a
 * MediaRecorder (Opus in WebM or Ogg where the browser has it, else its
 * default), and its loudness sampled meanwhile through Web Audio for the
 * level meter and the waveform the message carries. Owns the microphone
 * while recording and always releases it (stop, cancel, or a failure).
 */

export interface RecordedVoice {
  audio: Blob;
  durationMs: number;
  /** Loudness over the recording, 0-255, at most WAVEFORM_SAMPLES values. */
  waveform: Uint8Array;
}

export interface VoiceRecording {
  /** Milliseconds recorded so far. */
  elapsedMs(): number;
  /** The current loudness, 0-1, for a level meter. */
  level(): number;
  /** Ends the recording and resolves with it. */
  stop(): Promise<RecordedVoice>;
  /** Ends the recording and drops it. */
  cancel(): void;
}

/** The server keeps at most 128 waveform values; fewer draw as well. */
const WAVEFORM_SAMPLES = 64;
const LEVEL_INTERVAL_MS = 50;
/** Asked for in this order; the first the browser can record is used. */
const PREFERRED_TYPES = ['audio/webm;codecs=opus', 'audio/ogg;codecs=opus', 'audio/mp4', 'audio/webm'];
/** Speech needs little: a minute is about 240 KB. */
const VOICE_BITS_PER_SECOND = 32_000;

/** Whether this browser can record voice notes (and the page may ask for the microphone: a secure context). */
export function canRecordVoice(): boolean {
  return typeof MediaRecorder !== 'undefined' && typeof navigator.mediaDevices?.getUserMedia === 'function';
}

/** Asks for the microphone and starts recording; rejects when it is refused or missing. */
export async function startVoiceRecording(): Promise<VoiceRecording> {
  const stream = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: true, noiseSuppression: true } });
  const mimeType = PREFERRED_TYPES.find((type) => MediaRecorder.isTypeSupported(type));
  let recorder: MediaRecorder;
  try {
    recorder = new MediaRecorder(stream, mimeType === undefined ? { audioBitsPerSecond: VOICE_BITS_PER_SECOND } : { mimeType, audioBitsPerSecond: VOICE_BITS_PER_SECOND });
  } catch (error) {
    for (const track of stream.getTracks()) track.stop();
    throw error;
  }
  const chunks: Blob[] = [];
  recorder.addEventListener('dataavailable', (event) => {
    if (event.data.size > 0) chunks.push(event.data);
  });

  // Loudness: root mean square of the latest samples, every LEVEL_INTERVAL_MS.
  const loudness: number[] = [];
  let current = 0;
  let audio: AudioContext | undefined;
  let sampler: ReturnType<typeof setInterval> | undefined;
  try {
    audio = new AudioContext();
    const analyser = audio.createAnalyser();
    analyser.fftSize = 1024;
    audio.createMediaStreamSource(stream).connect(analyser);
    const samples = new Uint8Array(analyser.fftSize);
    sampler = setInterval(() => {
      analyser.getByteTimeDomainData(samples);
      let sum = 0;
      for (const sample of samples) sum += ((sample - 128) / 128) ** 2;
      // Speech rarely passes an RMS of 0.35: scale it to fill the meter.
      current = Math.min(1, Math.sqrt(sum / samples.length) / 0.35);
      loudness.push(current);
    }, LEVEL_INTERVAL_MS);
  } catch {
    // No Web Audio: the note is recorded all the same, without a waveform.
  }

  const startedAt = performance.now();
  let endedAt: number | undefined;
  const release = () => {
    endedAt ??= performance.now();
    clearInterval(sampler);
    void audio?.close().catch(() => undefined);
    for (const track of stream.getTracks()) track.stop();
  };
  recorder.start(1000);

  return {
    elapsedMs: () => (endedAt ?? performance.now()) - startedAt,
    level: () => current,
    stop: () =>
      new Promise<RecordedVoice>((resolve, reject) => {
        endedAt ??= performance.now();
        const finish = () => {
          release();
          resolve({
            audio: new Blob(chunks, { type: recorder.mimeType === '' ? 'audio/webm' : recorder.mimeType }),
            durationMs: Math.round((endedAt ?? performance.now()) - startedAt),
            waveform: downsample(loudness, WAVEFORM_SAMPLES),
          });
        };
        if (recorder.state === 'inactive') {
          finish();
          return;
        }
        // The last chunk arrives (dataavailable) before 'stop'.
        recorder.addEventListener('stop', finish, { once: true });
        recorder.addEventListener(
          'error',
          () => {
            release();
            reject(new Error('the recording failed'));
          },
          { once: true },
        );
        recorder.stop();
      }),
    cancel: () => {
      if (recorder.state !== 'inactive') recorder.stop();
      release();
    },
  };
}

/** `count` values 0-255: the loudest of each stretch, so that short syllables still show. */
export function downsample(levels: readonly number[], count: number): Uint8Array {
  if (levels.length === 0) return new Uint8Array();
  const size = Math.min(count, levels.length);
  const result = new Uint8Array(size);
  for (let index = 0; index < size; index++) {
    const from = Math.floor((index * levels.length) / size);
    const to = Math.max(from + 1, Math.floor(((index + 1) * levels.length) / size));
    let peak = 0;
    for (let at = from; at < to; at++) peak = Math.max(peak, levels[at] ?? 0);
    result[index] = Math.round(peak * 255);
  }
  return result;
}
