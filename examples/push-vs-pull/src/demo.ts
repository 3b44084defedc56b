/**
 * Push vs pull on the same stream of jobs. Two groups each get every job (fan-out):
 *  - push: the broker hands jobs to a handler as they arrive, `concurrency` at a time;
 *  - pull: a worker asks for a batch when it is ready, acks each job it finished.
 * Push gives the lowest latency; pull lets a worker pace itself (cron jobs, batch APIs, back-pressure).
 */
import { randomUUID } from 'node:crypto';
import { createBus, silentLogger } from '@switchyard/core';

export interface PushPullSummary {
  pushed: number;
  pulled: number;
  batches: number[];
}

export async function runPushVsPull({ url, say, jobs = 12 }: { url: string; say: (line: string) => void; jobs?: number }): Promise<PushPullSummary> {
  const run = randomUUID().slice(0, 6);
  const topic = 'jobs.resize';
  const producer = await createBus({ url, service: 'uploader', logger: silentLogger });
  const pushBus = await createBus({ url, service: 'push-workers', logger: silentLogger });
  const pullBus = await createBus({ url, service: 'pull-workers', logger: silentLogger });
  const summary: PushPullSummary = { pushed: 0, pulled: 0, batches: [] };
  try {
    let pushDone!: () => void;
    const allPushed = new Promise<void>((resolve) => (pushDone = resolve));
    await pushBus.subscribe(
      topic,
      async (msg) => {
        const job = msg.body as { run: string; n: number };
        if (job.run !== run) return;
        summary.pushed++;
        say(`  [push] handled job ${job.n} the moment it arrived`);
        if (summary.pushed === jobs) pushDone();
      },
      { concurrency: 4 },
    );
    // Create the pull group before publishing so it keeps every job for the worker.
    await pullBus.pull(topic, { waitMs: 0 });

    say(`Publishing ${jobs} resize jobs ...`);
    for (let n = 1; n <= jobs; n++) await producer.publish(topic, { run, n, image: `photo-${n}.jpg` });

    say('The polling worker asks for up to 5 jobs at a time:');
    while (summary.pulled < jobs) {
      const batch = await pullBus.pull(topic, { max: 5, waitMs: 2000 });
      const ours = batch.filter((m) => (m.body as { run: string }).run === run);
      for (const m of batch) await m.ack();
      if (batch.length === 0) throw new Error(`The pull worker got no jobs for 2 s with ${jobs - summary.pulled} outstanding.`);
      summary.pulled += ours.length;
      summary.batches.push(ours.length);
      say(`  [pull] took a batch of ${ours.length}: jobs ${ours.map((m) => (m.body as { n: number }).n).join(', ')}`);
    }
    await allPushed;
    say(`\nBoth groups got all ${jobs} jobs: push one by one as they came, pull in ${summary.batches.length} batches.`);
    return summary;
  } finally {
    await Promise.allSettled([producer.close(), pushBus.close(), pullBus.close()]);
  }
}
