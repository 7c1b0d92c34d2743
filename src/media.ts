// The file endings losa reads: videos, and still images (read as one-frame videos). One list,
// used by the video input (what to probe as an image) and by the data sets (what to list), so
// that neither needs the other.
import path from 'node:path';

export const VIDEO_EXTENSIONS: readonly string[] = Object.freeze([
  '.mp4', '.m4v', '.mov', '.mkv', '.webm', '.avi', '.mpg', '.mpeg', '.ts', '.mts', '.m2ts',
  '.flv', '.3gp', '.3g2', '.ogv', '.wmv', '.gif', '.y4m',
]);
// Images are read by sharp (by their content; BMP by ffmpeg): these endings are what the data sets list.
export const IMAGE_EXTENSIONS: readonly string[] = Object.freeze(['.png', '.jpg', '.jpeg', '.bmp', '.webp', '.avif', '.tif', '.tiff']);

const MEDIA = new Set([...VIDEO_EXTENSIONS, ...IMAGE_EXTENSIONS]);

/** Whether a path names a still image losa reads as a one-frame video (by its extension). */
export function isImagePath(file: string): boolean {
  return IMAGE_EXTENSIONS.includes(path.extname(file).toLowerCase());
}

/** Whether a path names a video or image file losa reads (by its extension, any case). */
export function isMediaPath(file: string): boolean {
  return MEDIA.has(path.extname(file).toLowerCase());
}
