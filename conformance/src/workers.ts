import { type ChildProcess, fork } from 'node:child_process';
import type { Bus } from '@switchyard/core';

export interface Progress {
  claimed: number;
  done: number;
  runs: number;
}

type WorkerMessage = ({ type: 'progress' } & Progress) | { type: 'ready' };

/**
 * Worker processes driven over IPC, for tests that need several real processes sharing a store or
 * a broker: each worker script sends 'ready' once subscribed and 'progress' ({ claimed, done, runs })
 * as it goes, and exits on 'stop' — serveAsWorker (@switchyard/conformance/worker) is that side.
 */
export class Workers {
  private readonly children: ChildProcess[] = [];
  private readonly progress = new Map<ChildProcess, Progress>();
  private listeners: (() => void)[] = [];

  constructor(
    private readonly script: string,
    private readonly env: Record<string, string>,
  ) {}

  /** Start `n` workers; resolve when each has subscribed. */
  async start(n: number): Promise<void> {
    await Promise.all(Array.from({ length: n }, () => this.startOne()));
  }

  private startOne(): Promise<void> {
    const child = fork(this.script, [], { env: { ...process.env, ...this.env }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.children.push(child);
    this.progress.set(child, { claimed: 0, done: 0, runs: 0 });
    return new Promise((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`worker ${child.pid} exited with ${code} before it was ready`)));
      child.on('message', (message: WorkerMessage) => {
        if (message.type === 'ready') resolve();
        if (message.type === 'progress') {
          this.progress.set(child, { claimed: message.claimed, done: message.done, runs: message.runs });
          for (const listener of this.listeners) listener();
        }
      });
    });
  }

  private total(): Progress {
    let total: Progress = { claimed: 0, done: 0, runs: 0 };
    for (const p of this.progress.values()) total = { claimed: total.claimed + p.claimed, done: total.done + p.done, runs: total.runs + p.runs };
    return total;
  }

  /** Resolve when the workers' summed progress satisfies `done`; reject after timeoutMs saying where it stood. */
  progressReaches(done: (total: Progress) => boolean, timeoutMs: number): Promise<void> {
    if (done(this.total())) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.listeners = this.listeners.filter((l) => l !== check);
        reject(new Error(`Timed out after ${timeoutMs} ms; workers reported ${JSON.stringify(this.total())}.`));
      }, timeoutMs);
      const check = () => {
        if (!done(this.total())) return;
        clearTimeout(timer);
        this.listeners = this.listeners.filter((l) => l !== check);
        resolve();
      };
      this.listeners.push(check);
    });
  }

  /** Ask every worker to close and exit; resolve with each one's final counts once all exited cleanly. */
  async stop(): Promise<Progress[]> {
    await Promise.all(
      this.children.map(
        (child) =>
          new Promise<void>((resolve, reject) => {
            child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`worker ${child.pid} exited with ${code}`))));
            child.send({ type: 'stop' });
          }),
      ),
    );
    return this.children.map((child) => this.progress.get(child)!);
  }

  /** Kill whatever is still running (a failed test); only the processes this object started. */
  async kill(): Promise<void> {
    for (const child of this.children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

/**
 * What a retrying publisher causes: `messages` bodies `{ n }` with ids `<run>-<n>`, sent from
 * `publishers` concurrent loops, every `duplicateEvery`th one twice right behind the original
 * (the two often reach different workers at once). Returns the ids and how many deliveries that is.
 */
export async function publishWithDuplicates(
  bus: Bus,
  topic: string,
  run: string,
  { messages, duplicateEvery, publishers }: { messages: number; duplicateEvery: number; publishers: number },
): Promise<{ ids: string[]; deliveries: number }> {
  const ids = Array.from({ length: messages }, (_, i) => `${run}-${i}`);
  let next = 0;
  await Promise.all(
    Array.from({ length: publishers }, async () => {
      for (let i = next++; i < messages; i = next++) {
        await bus.publish(topic, { n: i }, { id: ids[i]! });
        if (i % duplicateEvery === 0) await bus.publish(topic, { n: i }, { id: ids[i]! });
      }
    }),
  );
  return { ids, deliveries: messages + Math.ceil(messages / duplicateEvery) };
}
