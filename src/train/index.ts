// Public API of src/train/: the training loop and its named steps (prepare the run, one epoch,
// validate, save), the training options and views, and writing the run directory.
export * from './options.js';
export * from './loop.js';
export * from './prepare.js';
export * from './epoch.js';
export * from './validate.js';
export * from './save.js';
export * from './views.js';
export { openValidation } from './data.js';
export * from './gradients.js';
export * from './rundir.js';
export type * from './events.js';
