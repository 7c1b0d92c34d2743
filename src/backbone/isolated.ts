// loadBackbone: the onnxruntime session in a child process of its own.
// - onnxruntime-node's session.run is a synchronous native call: on the main thread it would block
//   the event loop for the whole forward pass, so the decoders' pipes would stop draining.
// - It is native code: a crash in it (a segfault, an abort) would end the whole process with no
//   word and lose every result. In a child, the crash ends the child only, and the caller gets a
//   BackboneCrash naming the backbone, the signal and what it was doing.
// Frames cross as rgb24 bytes (a quarter of the float32 size), features come back as float32.
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { LosaError, oneLine } from '../errors.js';
import { loadBackboneInProcess, type Backbone, type BackboneOptions } from './session.js';
import type { ChildReply, ChildRequest } from './child.js';

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
type Request = DistributiveOmit<ChildRequest, 'id'>;
type OkReply = ChildReply & { ok: true };

/** The backbone's process ended while losa still needed it: fatal for the whole command. */
export class BackboneCrash extends LosaError {
  override name = 'BackboneCrash';
}

/** The compiled child entry beside this module, or null when running from TypeScript sources. */
function childScript(): string | null {
  const file = fileURLToPath(new URL('./child.js', import.meta.url));
  return existsSync(file) ? file : null;
}

export async function loadBackbone(options: BackboneOptions): Promise<Backbone> {
  const script = options.isolate === false ? null : childScript();
  if (!script) return loadBackboneInProcess(options);
  return loadBackboneIsolated(script, options);
}

/** How much of the child's stderr to keep for a crash report (onnxruntime prints its reason there). */
const STDERR_TAIL_BYTES = 4096;

/** What a request was doing, for the crash message. */
function activity(request: Request, name: string): string {
  if (request.type === 'load') return `loading ${name}`;
  if (request.type === 'forward') return `computing features of ${request.numFrames} frames`;
  return 'shutting down';
}

function crashMessage(name: string, code: number | null, signal: NodeJS.Signals | null, doing: string | undefined, stderr: string): string {
  const how = signal ? `crashed (${signal})` : `exited with status ${code}`;
  const last = oneLine(stderr.trim().split('\n').filter((l) => l.trim()).slice(-1)[0] ?? '');
  return `the backbone process (onnxruntime, ${name}) ${how}${doing ? ` while ${doing}` : ''}` +
    `${last ? `: ${last.slice(0, 300)}` : ''}; the results written before it are kept`;
}

function spawnChild(script: string): ChildProcess {
  // Inherit the parent's Node flags (a preload such as scripts/peak-rss.js measures the child
  // too), but not a debugger port the parent already holds.
  const execArgv = process.execArgv.filter((a) => !a.startsWith('--inspect'));
  return fork(script, [], { serialization: 'advanced', stdio: ['ignore', 'ignore', 'pipe', 'ipc'], execArgv });
}

/** The request/reply channel to the child, with its crash handling; idle, it keeps nothing alive. */
class ChildChannel {
  private nextId = 0;
  private readonly waiting = new Map<number, { resolve: (r: OkReply) => void; reject: (e: Error) => void; doing: string }>();
  private stderr = '';
  private dead: Error | null = null;
  disposing = false;

  constructor(private readonly child: ChildProcess, private readonly name: string) {
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (text: string) => {
      this.stderr = (this.stderr + text).slice(-STDERR_TAIL_BYTES);
    });
    this.reference(false);
    child.on('message', (reply: ChildReply) => {
      const w = this.waiting.get(reply.id);
      if (!w) return;
      this.waiting.delete(reply.id);
      if (reply.ok) w.resolve(reply);
      else w.reject(new LosaError(reply.message));
    });
    child.on('error', (error) => this.failAll(new BackboneCrash(`the backbone process (onnxruntime, ${name}) failed: ${error.message}`)));
    child.on('exit', (code, signal) => {
      const doing = [...this.waiting.values()][0]?.doing;
      if (this.disposing && this.waiting.size === 0) return this.failAll(new LosaError(`${name}: the backbone was disposed`));
      this.failAll(new BackboneCrash(crashMessage(name, code, signal, doing, this.stderr)));
    });
  }

  get alive(): boolean {
    return this.dead === null;
  }

  call(request: Request): Promise<OkReply> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextId++;
    return new Promise<OkReply>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject, doing: activity(request, this.name) });
      this.reference(true);
      // A send fails when the child is gone: its 'exit' event, which follows, says why (a
      // signal, a status) and rejects what is waiting. One still running is ended, so that it does.
      this.child.send({ ...request, id } as ChildRequest, (error) => {
        if (error && this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
      });
    }).finally(() => {
      if (this.waiting.size === 0) this.reference(false);
    });
  }

  /** Ends the child (it exits when its channel closes) and waits for it. */
  async stop(): Promise<void> {
    this.disposing = true;
    const { child } = this;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.ref(); // wait for the exit, even with nothing else left to do
    if (child.connected) child.disconnect();
    await exited;
  }

  private reference(on: boolean): void {
    for (const handle of [this.child, this.child.channel, this.child.stderr] as ({ ref?(): void; unref?(): void } | null | undefined)[]) {
      if (on) handle?.ref?.(); else handle?.unref?.();
    }
  }

  private failAll(error: Error): void {
    this.dead ??= error;
    for (const w of this.waiting.values()) w.reject(this.dead);
    this.waiting.clear();
  }
}

export async function loadBackboneIsolated(script: string, options: BackboneOptions): Promise<Backbone> {
  const channel = new ChildChannel(spawnChild(script), options.config.name ?? 'vit');
  let info: OkReply;
  try {
    info = await channel.call({ type: 'load', options: { ...options, isolate: false } });
  } catch (error) {
    await channel.stop();
    throw error;
  }
  return {
    ...info.info!,
    async forward(frames, numFrames) {
      return (await channel.call({ type: 'forward', frames, numFrames })).features!;
    },
    async dispose() {
      if (channel.disposing) return;
      try {
        if (channel.alive) await channel.call({ type: 'dispose' });
      } finally {
        await channel.stop();
      }
    },
  };
}
