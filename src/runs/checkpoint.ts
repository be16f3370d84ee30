// Checkpoints: what the training loop needs to continue a run exactly where it stopped, after a kill -9 too.
//   DIR/checkpoint/latest        the name of the newest complete checkpoint ("0005\n"), replaced by rename
//   DIR/checkpoint/0005/         after epoch 5 (or 0006-b000123: stopped by a signal after 123 batches of epoch 6)
//     state.json                 the loop's state: config, epochs and batches done, history, early stopping, RNGs
//     order.bin                  int32 [train count]: the data order of the epoch under way
//     ...                        the engine's files: weights, optimizer, best weights, weight average, its RNG
//     SHA256SUMS                 every file above (`sha256sum -c` reads it)
// A checkpoint is written into a temp folder, each file fsynced, then the folder is renamed into place and fsynced,
// and only then does `latest` move to it; older checkpoints are removed after that. A kill at any moment leaves
// `latest` naming a complete checkpoint: the old one or the new one.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { fsyncDir, readJson, writeFileAtomic, writeJsonAtomic } from '../util/fsutil.js';
import { readChecksums, SHA256SUMS, verifyChecksums, writeChecksums } from './checksums.js';
import { makeConfig, type TrainConfig } from './config.js';
import type { EpochRecord } from './files.js';

export const CHECKPOINT_DIR = 'checkpoint';

const count = z.number().int().min(0);
const finite = z.number().finite();
const STATE_SCHEMA = z.strictObject({
  version: z.literal(1),
  config: z.record(z.string(), z.unknown()),
  epoch: count,
  batch: count,
  partial: z.strictObject({ lossSum: finite, correct: count, seen: count, seconds: finite }),
  history: z.array(
    z.strictObject({
      epoch: count,
      loss: finite,
      accuracy: finite,
      valLoss: finite.nullable(),
      valAccuracy: finite.nullable(),
      seconds: finite,
      rssMB: finite,
    }),
  ),
  best: z.strictObject({ loss: finite.nullable(), epoch: count }),
  stale: count,
  stoppedEarly: z.boolean(),
  random: z.strictObject({ batches: count, batchEpochs: count, augment: count }),
  savedAt: z.string(),
});
const LATEST = 'latest';
const STATE_JSON = 'state.json';
const ORDER_BIN = 'order.bin';
const VERSION = 1;

/** The loop's own state; the engine's (weights, optimizer, ...) is in files beside it. */
export interface LoopState {
  version: number;
  config: TrainConfig;
  /** Epochs finished. */
  epoch: number;
  /** Batches finished of epoch `epoch + 1` (0 at an epoch's end), and that partial epoch's sums. */
  batch: number;
  partial: { lossSum: number; correct: number; seen: number; seconds: number };
  history: EpochRecord[];
  best: { loss: number | null; epoch: number };
  stale: number;
  stoppedEarly: boolean;
  /** mulberry32 states: the data order's stream and the augmentation's. */
  random: { batches: number; batchEpochs: number; augment: number };
  savedAt: string;
}

export interface Checkpoint {
  /** The checkpoint's folder, where the engine reads its files. */
  dir: string;
  state: LoopState;
  order: Int32Array;
}

export const checkpointName = (epoch: number, batch: number) =>
  batch === 0
    ? String(epoch).padStart(4, '0')
    : `${String(epoch + 1).padStart(4, '0')}-b${String(batch).padStart(6, '0')}`;

let writes = 0;

/**
 * FMNIST_CHECKPOINT_PAUSE=<phase>[:<k>] stops the k-th checkpoint write of this process (default the first) at
 * <phase> -- 'files' (half the files written), 'folder' (renamed into place, `latest` not yet moved) or
 * 'pointer' (moved, the old checkpoint not yet removed) -- and waits there forever, after creating
 * checkpoint/.paused-<phase>: the kill -9 tests use it to kill inside a write on purpose.
 */
function pauseAt(phase: string, root: string): void {
  const want = process.env.FMNIST_CHECKPOINT_PAUSE;
  if (!want) return;
  const [p, k] = want.split(':');
  if (p !== phase || writes !== Number(k ?? 1)) return;
  writeFileSync(join(root, `.paused-${phase}`), `${process.pid}\n`);
  const cell = new Int32Array(new SharedArrayBuffer(4));
  for (;;) Atomics.wait(cell, 0, 0, 60_000);
}

/**
 * Writes a checkpoint of the run in `out`: the loop's state, the data order and the engine's files (written by
 * `writeEngine` into the folder it is given). Returns the checkpoint's folder.
 */
export async function writeCheckpoint(
  out: string,
  state: LoopState,
  order: Int32Array,
  writeEngine: (dir: string) => Promise<void>,
): Promise<string> {
  writes++;
  const root = join(out, CHECKPOINT_DIR);
  mkdirSync(root, { recursive: true });
  const name = checkpointName(state.epoch, state.batch);
  const tmp = join(root, `.tmp-${name}-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  writeFileAtomic(join(tmp, ORDER_BIN), new Uint8Array(order.buffer, order.byteOffset, order.byteLength));
  writeJsonAtomic(join(tmp, STATE_JSON), state);
  pauseAt('files', root);
  await writeEngine(tmp);
  writeChecksums(tmp);
  const dir = join(root, name);
  // a checkpoint of the same name exists only when an earlier, interrupted attempt got this far: `latest` does not
  // name it (it would be older than the state being saved), so it can go
  if (existsSync(dir) && readLatestName(root) !== name) rmSync(dir, { recursive: true, force: true });
  if (existsSync(dir)) {
    // the same position saved twice (a resumed run stopped again before its first new step): keep the one there
    rmSync(tmp, { recursive: true, force: true });
  } else renameSync(tmp, dir);
  fsyncDir(root);
  pauseAt('folder', root);
  writeFileAtomic(join(root, LATEST), `${name}\n`);
  pauseAt('pointer', root);
  for (const f of readdirSync(root))
    if (f !== name && f !== LATEST) rmSync(join(root, f), { recursive: true, force: true });
  return dir;
}

function readLatestName(root: string): string | null {
  const p = join(root, LATEST);
  if (!existsSync(p)) return null;
  const name = readFileSync(p, 'utf8').trim();
  if (!/^\d{4}(-b\d{6})?$/.test(name)) throw new Error(`${p}: damaged (it should name a checkpoint, like 0005)`);
  return name;
}

/** The newest complete checkpoint of the run in `out`, checked against its SHA256SUMS; null when there is none. */
export function readCheckpoint(out: string): Checkpoint | null {
  const root = join(out, CHECKPOINT_DIR);
  const name = readLatestName(root);
  if (!name) return null;
  const dir = join(root, name);
  if (!existsSync(dir)) throw new Error(`${join(root, LATEST)}: names ${name}, which is not there`);
  if (!readChecksums(dir)) throw new Error(`${join(dir, SHA256SUMS)}: missing (the checkpoint is damaged)`);
  verifyChecksums(dir);
  const file = join(dir, STATE_JSON);
  const raw = readJson<LoopState>(file, 'checkpoint state');
  if (raw?.version !== VERSION)
    throw new Error(`${file}: not a checkpoint state of this fmnist (version ${raw?.version})`);
  const parsed = STATE_SCHEMA.safeParse(raw);
  if (!parsed.success) {
    const i = parsed.error.issues[0];
    throw new Error(`${file}: damaged (${i.path.join('.') || 'the state'}: ${i.message})`);
  }
  const state = parsed.data as unknown as LoopState;
  try {
    state.config = makeConfig(parsed.data.config);
  } catch (e) {
    throw new Error(`${file}: damaged (${(e as Error).message})`, { cause: e });
  }
  const bytes = readFileSync(join(dir, ORDER_BIN));
  if (bytes.byteLength % 4) throw new Error(`${join(dir, ORDER_BIN)}: damaged (not a whole number of int32s)`);
  const order = new Int32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  return { dir, state, order };
}

/** Removes a run folder's checkpoints (a fresh run into a used folder must never resume the old one). */
export function removeCheckpoints(out: string): void {
  rmSync(join(out, CHECKPOINT_DIR), { recursive: true, force: true });
}

/** Config keys a resumed run may change: they change where or how fast it runs, not what it computes. */
export const RESUMABLE_CHANGES = ['threads', 'epochs', 'checkpointEvery', 'dataDir'] as const;

export interface Resume {
  cfg: TrainConfig;
  checkpoint: Checkpoint;
  /** The run has trained all its epochs (or stopped early) and has its test results: nothing to do. */
  complete: boolean;
}

/**
 * What `fmnist train --resume DIR` continues: the checkpoint's config, with the keys the user gave checked
 * against it. Refuses a folder without a checkpoint and a config that differs beyond RESUMABLE_CHANGES.
 */
export function resumeRun(dir: string, given: object): Resume {
  if (!existsSync(join(dir, 'run.json'))) throw new Error(`--resume ${dir}: not a run folder (no run.json)`);
  const checkpoint = readCheckpoint(dir);
  if (!checkpoint)
    throw new Error(
      `--resume ${dir}: the run has no checkpoint (written before fmnist saved checkpoints, or interrupted ` +
        `before its first one), so it cannot be resumed; train it again with --out ${dir}`,
    );
  const saved = checkpoint.state.config;
  const cfg = makeConfig({ ...saved, ...given, out: dir });
  const changed = (Object.keys(cfg) as (keyof TrainConfig)[]).filter(
    (k) => k !== 'out' && JSON.stringify(cfg[k]) !== JSON.stringify(saved[k]),
  );
  const refused = changed.filter((k) => !(RESUMABLE_CHANGES as readonly string[]).includes(k));
  if (refused.length)
    throw new Error(
      `--resume ${dir}: ${refused.map((k) => `${k} ${JSON.stringify(cfg[k])} differs from the checkpoint's ${JSON.stringify(saved[k])}`).join(', ')}; ` +
        `leave ${refused.length === 1 ? 'it' : 'them'} out to continue the run, or train afresh with --out`,
    );
  const { state } = checkpoint;
  if (cfg.epochs < state.epoch)
    throw new Error(`--resume ${dir}: --epochs ${cfg.epochs} is fewer than the ${state.epoch} epochs already trained`);
  const trained = state.batch === 0 && (state.epoch >= cfg.epochs || state.stoppedEarly);
  return { cfg, checkpoint, complete: trained && existsSync(join(dir, 'metrics.json')) };
}
