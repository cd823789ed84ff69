/**
 * What a browser can tell about a video before sending it: its frame size,
 * its length and a poster made from an early frame. The server reads these
 * from MP4 and MOV files itself, but not from WebM (what browsers record), so
 * without this a video recorded here would arrive without a shape, a length
 * or a preview. Anything the browser cannot decode in time is simply left out.
 */

export interface VideoFacts {
  width: number;
  height: number;
  /** 0 when the container does not say (WebM from MediaRecorder often does not). */
  durationMs: number;
  /** A JPEG of an early frame, at most POSTER_SIDE on its longer side. */
  poster?: Blob;
}

const MEASURE_TIMEOUT_MS = 5000;
const POSTER_SIDE = 640;
/** A moment just after the start: the very first frame is often black. */
const POSTER_AT_SECONDS = 0.1;

export function measureVideo(file: Blob): Promise<VideoFacts | undefined> {
  return new Promise((resolve) => {
    const url = URL.createObjectURL(file);
    const video = document.createElement('video');
    let settled = false;
    const finish = (facts: VideoFacts | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      video.removeAttribute('src');
      video.load();
      URL.revokeObjectURL(url);
      resolve(facts);
    };
    const timer = setTimeout(() => finish(undefined), MEASURE_TIMEOUT_MS);
    video.muted = true;
    video.preload = 'auto';
    video.playsInline = true;
    video.onerror = () => finish(undefined);
    video.onloadedmetadata = () => {
      const target = Number.isFinite(video.duration) && video.duration > POSTER_AT_SECONDS ? POSTER_AT_SECONDS : 0;
      if (video.currentTime === target) void posterOf(video).then((poster) => finish(factsOf(video, poster)));
      else video.currentTime = target;
    };
    video.onseeked = () => void posterOf(video).then((poster) => finish(factsOf(video, poster)));
    video.src = url;
  });
}

function factsOf(video: HTMLVideoElement, poster: Blob | undefined): VideoFacts | undefined {
  if (video.videoWidth === 0 || video.videoHeight === 0) return undefined;
  const facts: VideoFacts = {
    width: video.videoWidth,
    height: video.videoHeight,
    durationMs: Number.isFinite(video.duration) ? Math.round(video.duration * 1000) : 0,
  };
  if (poster !== undefined) facts.poster = poster;
  return facts;
}

function posterOf(video: HTMLVideoElement): Promise<Blob | undefined> {
  const scale = Math.min(1, POSTER_SIDE / Math.max(video.videoWidth, video.videoHeight, 1));
  const canvas = document.createElement('canvas');
  canvas.width = Math.max(1, Math.round(video.videoWidth * scale));
  canvas.height = Math.max(1, Math.round(video.videoHeight * scale));
  const context = canvas.getContext('2d');
  if (context === null) return Promise.resolve(undefined);
  try {
    context.drawImage(video, 0, 0, canvas.width, canvas.height);
  } catch {
    return Promise.resolve(undefined);
  }
  return new Promise((resolve) => canvas.toBlob((blob) => resolve(blob ?? undefined), 'image/jpeg', 0.8));
}
