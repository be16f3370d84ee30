// The child process of harness.ts: runs one named target's loop and reports failures over IPC. Before each
// execution it writes the input to the progress file, so that if this process dies or hangs the parent knows
// which input did it.
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { runLoop, unpackInputs, type ChildMessage, type ChildStart } from './harness.js';
import { loadTarget } from './targets/index.js';

const send = (m: ChildMessage) =>
  new Promise<void>((resolve) => {
    process.send!(m, undefined, {}, () => resolve());
  });

process.once('message', async (start: ChildStart) => {
  let target;
  try {
    target = await loadTarget(start.target);
  } catch (e) {
    await send({ type: 'setup-error', message: (e as Error).stack ?? String(e) });
    process.exit(1);
  }
  const fd = openSync(start.progressFile, 'r+');
  let tick = 0;
  const head = Buffer.alloc(12);
  const beforeRun = (index: number, input: Uint8Array) => {
    head.writeUInt32LE(++tick >>> 0, 0);
    head.writeUInt32LE(index >>> 0, 4);
    head.writeUInt32LE(input.length, 8);
    // the input first, then the header that says it is there
    writeSync(fd, input, 0, input.length, 12);
    writeSync(fd, head, 0, 12, 0);
  };
  const seeds = start.seedsFile ? unpackInputs(readFileSync(start.seedsFile)) : undefined;
  const replay = start.replayFile ? unpackInputs(readFileSync(start.replayFile)) : undefined;
  const repeats = new Map<string, number>();
  let r;
  try {
    // setup (a server, a model) is done before 'started', so the watchdog's short limit starts after it
    await target.setup?.();
    const corpus = replay ? undefined : (seeds ?? (await target.seeds()));
    await send({ type: 'started', timeoutMs: target.timeoutMs ?? 2000 });
    r = await runLoop(target, {
      seed: start.seed,
      start: start.start,
      end: start.end,
      deadline: start.deadline,
      seeds: corpus,
      replay: replay?.slice(start.start),
      beforeRun,
      onFailure: (f) => {
        // the first of each kind goes now (this process may die); the rest are counted, and sent at the end
        if (repeats.has(f.key)) repeats.set(f.key, repeats.get(f.key)! + 1);
        else {
          repeats.set(f.key, 0);
          void send({ type: 'failure', failure: { ...f, input: Buffer.from(f.input).toString('base64') } });
        }
      },
    });
  } catch (e) {
    await send({ type: 'setup-error', message: (e as Error).stack ?? String(e) });
    process.exit(1);
  }
  closeSync(fd);
  await target.close?.();
  await send({ type: 'done', executions: r.executions, seeds: r.seeds, corpus: r.corpus, repeats: [...repeats] });
  process.exit(0);
});
