// Defaults of the queue's commands, in a module that loads nothing (the option tables and --help
// read them without loading BullMQ).

/** The queue `losa extract` and `losa worker` use unless told otherwise. */
export const DEFAULT_QUEUE = 'losa-extract';

/** Seconds without a lock renewal before an active job counts as stalled and goes to another worker. */
export const DEFAULT_STALL_SECONDS = 30;

/** Seconds a stopping worker gives its jobs before handing them back (Kubernetes waits 30 s before SIGKILL). */
export const DEFAULT_GRACE_SECONDS = 25;
