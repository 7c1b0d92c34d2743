// The public API of losa as a library.
export * from './errors.js';
export * from './random.js';
export * from './safetensors.js';
export * from './fsutil.js';
export * from './video/index.js';
export * from './data/index.js';
export * from './backbone/index.js';
export * from './side/index.js';
export * from './train/index.js';
export * from './ui/index.js';
export type * from './train/events.js';
export { main } from './cli.js';
