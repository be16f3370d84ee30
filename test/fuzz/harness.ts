// A small seeded fuzzer for fmnist's input readers (test tooling, not product).
//
//   fuzz({ target, seeds?, executions | seconds, seed }) -> { executions, failures }
//
// Each execution's input is a pure function of (seed, execution index, corpus): a seed input with 1-6 mutations
// (src: mutate.ts), or one the target generates from scratch. An input that gives a new outcome (a new error
// message shape, or success) joins the corpus, so later mutations start from inputs that got further.
//
// A failure is what a bad input must never cause: an exception other than the target's own clear error (a
// TypeError, a RangeError from a typed array, 'Cannot read properties of undefined', a stack overflow), a hang
// (longer than the per-execution limit), a broken invariant, or -- for a target run in a child process -- the
// process dying (an abort in native code). Failures are unique by kind, error class and first stack frame (or
// message shape); each keeps its first input, shrunk when it still fails the same way without some bytes.
//
// A target given by name (targets/index.ts) runs in a child process (child.ts), so an abort or a synchronous
// hang is seen: the child writes each input to a progress file before running it; when the child dies, or stops
// making progress, the parent reads the input back, records the failure, and starts a new child after it.
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execRng, mutateBytes, type Rng } from './mutate.js';

export interface FuzzTarget {
  name: string;
  /** Called once before anything else: starts a server, makes temp folders. */
  setup?(): void | Promise<void>;
  /** Valid inputs to mutate (after setup). */
  seeds(): Uint8Array[] | Promise<Uint8Array[]>;
  /** An input made from scratch (not from a seed). */
  generate?(rng: Rng): Uint8Array;
  /** How often generate() is used instead of a mutated seed (default 0.15 when there is one). */
  generateRate?: number;
  /** Structure-aware mutation (default: mutateBytes); `other` is another corpus entry, for splices. */
  mutate?(input: Uint8Array, rng: Rng, other: Uint8Array): Uint8Array;
  /**
   * Feeds one input to the code under test; may return a promise (awaited with the time limit). A string it
   * returns names the outcome (a status code...): inputs with a new outcome join the corpus, as new errors do.
   */
  run(input: Uint8Array): unknown;
  /** True for the error the target answers bad input with (a DataError, a 4xx...); anything else is a failure. */
  expected(err: unknown): boolean;
  /** The per-execution time limit in ms (default 2,000). */
  timeoutMs?: number;
  /** Called once at the end. */
  close?(): void | Promise<void>;
  /** A short readable form of an input, for failure reports (default: a hex preview). */
  describe?(input: Uint8Array): string;
}

export type FailureKind = 'exception' | 'invariant' | 'hang' | 'abort';

export interface Failure {
  /** What makes two failures the same: kind, error class, first stack frame or message shape. */
  key: string;
  kind: FailureKind;
  message: string;
  stack?: string;
  /** The first input that failed this way (shrunk where possible). */
  input: Uint8Array;
  execution: number;
  /** How many executions failed this way. */
  count: number;
}

export interface FuzzResult {
  target: string;
  executions: number;
  seconds: number;
  /** Unique failures, in the order they were first seen. */
  failures: Failure[];
  /** How many seed inputs there were, and how many inputs the corpus grew to. */
  seeds: number;
  corpus: number;
}

export interface FuzzOptions {
  /** A target object (run in this process), or a name from targets/index.ts (run in a child process). */
  target: FuzzTarget | string;
  /** Seed inputs; default: the target's own. */
  seeds?: Uint8Array[];
  /** Stop after this many executions... */
  executions?: number;
  /** ...or after this many seconds (whichever comes first). */
  seconds?: number;
  seed?: number;
  /** Run a named target in this process instead of a child (then an abort kills this process). */
  inProcess?: boolean;
  /** Instead of fuzzing, run exactly these inputs once each (regression fixtures). */
  replay?: Uint8Array[];
  /** Where progress lines go (default: nowhere). */
  log?: (line: string) => void;
}

/** Thrown by a target for a broken invariant (a 500 answer, a wrong-sized result): always a failure. */
export class InvariantError extends Error {
  override readonly name = 'InvariantError';
}

export function invariant(ok: unknown, message: string): asserts ok {
  if (!ok) throw new InvariantError(message);
}

class Hang extends Error {
  override readonly name = 'Hang';
}

// ---- classification ----

const GENERIC = [TypeError, RangeError, ReferenceError, SyntaxError, EvalError, URIError];
/** Messages that say the code, not the input, went wrong. */
const UNCLEAR =
  /Cannot read propert|Cannot set propert|Cannot destructure|is not a function|is not iterable|is not defined|is not a constructor|Maximum call stack|Invalid array length|Invalid typed array length|Array buffer allocation failed|out of memory|Offset is outside the bounds|\bundefined\b|\bNaN\b|\[object \w+\]/;

/** Why `err` is not a clear error (a generic JS error, or a message from the inside), or null when it is one. */
export function unclear(err: unknown): string | null {
  if (!(err instanceof Error)) return `a thrown ${typeof err} (${String(err).slice(0, 80)}), not an Error`;
  if (GENERIC.some((c) => err.constructor === c)) return `a ${err.constructor.name}`;
  if (!err.message) return 'an error without a message';
  // "quoted" parts echo the input (a file's first bytes may read "NaN"); a 'name' is the code's, and may be the bug
  if (UNCLEAR.test(err.message.replace(/"[^"]*"/g, '""'))) return `an unclear message`;
  return null;
}

/** A message with its numbers, hex and quoted parts replaced, so one bug's variants compare equal. */
export function messageShape(message: string): string {
  return message
    .replace(/0x[0-9a-f]+/gi, 'H')
    .replace(/'[^']*'|"[^"]*"|`[^`]*`/g, 'S')
    .replace(/-?\d+(\.\d+)?(e[+-]?\d+)?/gi, 'N')
    .replace(/\s+/g, ' ')
    .slice(0, 120);
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The first stack frame, without the column and the repository's path: where the error was thrown. */
function firstFrame(stack: string | undefined): string | null {
  const line = stack?.split('\n').find((l) => /^\s+at /.test(l));
  if (!line) return null;
  return line
    .trim()
    .replace(/^at /, '')
    .replace(/file:\/\//g, '')
    .split(ROOT)
    .join('')
    .replace(/:\d+\)?$/, (m) => (m.endsWith(')') ? ')' : ''));
}

/**
 * A failure's identity. A generic JS error (a TypeError...) is a bug where it is thrown: its first stack frame (of
 * the innermost cause, when it was wrapped). Any other error -- the target's own class with an unclear message, an
 * invariant -- is about what it says: its message's shape.
 */
function classify(err: unknown, kind: FailureKind): { key: string; message: string; stack?: string } {
  const e = err instanceof Error ? err : null;
  const message = e ? e.message : String(err);
  const cls = e ? e.constructor.name : typeof err;
  let inner = e;
  while (inner?.cause instanceof Error) inner = inner.cause;
  const generic = inner !== null && GENERIC.some((c) => inner.constructor === c);
  const where = kind === 'exception' && generic ? firstFrame(inner?.stack) : null;
  return { key: `${kind} ${cls}: ${where ?? messageShape(message)}`, message, stack: e?.stack };
}

// ---- the loop, in this process ----

interface LoopOptions {
  seed: number;
  start: number;
  /** Stop at this execution index (exclusive)... */
  end: number;
  /** ...or at this time (Date.now()). */
  deadline: number;
  /** The corpus to start from (fuzzing), or... */
  seeds?: Uint8Array[];
  /** ...the inputs to run once each (replay). */
  replay?: Uint8Array[];
  /** Called with each input before it runs (the child's progress file). */
  beforeRun?: (index: number, input: Uint8Array) => void;
  onFailure?: (f: Failure) => void;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Hang(`no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** One execution: what went wrong, or null; and the outcome's signature (for corpus novelty). */
async function execute(
  target: FuzzTarget,
  input: Uint8Array,
): Promise<{ failure: { kind: FailureKind; err: unknown } | null; outcome: string }> {
  const limit = target.timeoutMs ?? 2000;
  const t0 = performance.now();
  let outcome = 'ok';
  try {
    let r = target.run(input);
    if (r && typeof (r as Promise<unknown>).then === 'function') r = await withTimeout(r as Promise<unknown>, limit);
    if (typeof r === 'string') outcome = `ok ${messageShape(r).slice(0, 60)}`;
  } catch (err) {
    if (err instanceof Hang) return { failure: { kind: 'hang', err }, outcome: 'hang' };
    if (err instanceof InvariantError) return { failure: { kind: 'invariant', err }, outcome: 'invariant' };
    const ms = performance.now() - t0;
    if (ms > limit) return { failure: { kind: 'hang', err: new Hang(`took ${Math.round(ms)} ms`) }, outcome: 'hang' };
    const outcome = err instanceof Error ? messageShape(err.message).slice(0, 60) : 'non-error';
    return { failure: target.expected(err) ? null : { kind: 'exception', err }, outcome };
  }
  const ms = performance.now() - t0;
  if (ms > limit)
    return { failure: { kind: 'hang', err: new Hang(`took ${Math.round(ms)} ms (limit ${limit})`) }, outcome: 'hang' };
  return { failure: null, outcome };
}

const MAX_CORPUS = 512;
/** Bigger inputs (a 20 MB upload) run, but are not copied into the corpus to be mutated again and again. */
const MAX_CORPUS_INPUT = 1 << 20;

/** Makes input `index`: a generated one, or a corpus entry mutated. */
function makeInput(target: FuzzTarget, corpus: Uint8Array[], rng: Rng): Uint8Array {
  if (target.generate && rng.chance(target.generateRate ?? 0.15)) return target.generate(rng);
  const base = rng.pick(corpus);
  const other = rng.pick(corpus);
  return target.mutate ? target.mutate(base, rng, other) : mutateBytes(base, rng, other);
}

/** Drops chunks of the input while it still fails with the same key (bounded: ~1 s, 400 tries). */
async function shrink(
  target: FuzzTarget,
  input: Uint8Array,
  key: string,
  beforeRun: LoopOptions['beforeRun'],
  index: number,
): Promise<Uint8Array> {
  const until = Date.now() + 1000;
  let tries = 0;
  let best = input;
  for (let n = best.length >> 1; n >= 1 && tries < 400 && Date.now() < until; n >>= 1) {
    for (let at = 0; at + n <= best.length && tries < 400 && Date.now() < until;) {
      const cand = new Uint8Array(best.length - n);
      cand.set(best.subarray(0, at));
      cand.set(best.subarray(at + n), at);
      tries++;
      beforeRun?.(index, cand);
      const r = await execute(target, cand);
      if (r.failure && r.failure.kind !== 'hang' && classify(r.failure.err, r.failure.kind).key === key) best = cand;
      else at += n;
    }
  }
  return best;
}

/** Runs the loop in this process, on a target already set up. */
export async function runLoop(
  target: FuzzTarget,
  o: LoopOptions,
): Promise<{ executions: number; seeds: number; corpus: number }> {
  const corpus = [...(o.seeds ?? [])];
  if (!o.replay && corpus.length === 0) throw new Error(`fuzz target ${target.name}: no seed inputs`);
  const seen = new Set<string>();
  const failed = new Set<string>();
  let i = o.start;
  const end = o.replay ? o.start + o.replay.length : o.end;
  for (; i < end && Date.now() < o.deadline; i++) {
    const input = o.replay ? o.replay[i - o.start] : makeInput(target, corpus, execRng(o.seed, i));
    o.beforeRun?.(i, input);
    const r = await execute(target, input);
    if (!seen.has(r.outcome) && !r.failure && corpus.length < MAX_CORPUS && input.length <= MAX_CORPUS_INPUT) {
      seen.add(r.outcome);
      corpus.push(input);
    }
    if (!r.failure) continue;
    const c = classify(r.failure.err, r.failure.kind);
    // the first input of a new failure is shrunk; later ones only count
    const small =
      failed.has(c.key) || r.failure.kind === 'hang' || o.replay
        ? input
        : await shrink(target, input, c.key, o.beforeRun, i);
    failed.add(c.key);
    o.onFailure?.({ ...c, kind: r.failure.kind, input: small, execution: i, count: 1 });
  }
  return { executions: i - o.start, seeds: o.seeds?.length ?? 0, corpus: corpus.length };
}

// ---- the parent side ----

function merge(failures: Map<string, Failure>, f: Failure): void {
  const known = failures.get(f.key);
  if (known) known.count += f.count;
  else failures.set(f.key, { ...f });
}

/** Fuzzes one target; see the top of this file. */
export async function fuzz(o: FuzzOptions): Promise<FuzzResult> {
  const seed = o.seed ?? 1;
  const executions = o.replay ? o.replay.length : (o.executions ?? Infinity);
  if (!o.replay && executions === Infinity && o.seconds === undefined)
    throw new Error('fuzz: give executions or seconds');
  const t0 = Date.now();
  const deadline = o.seconds === undefined ? Number.MAX_SAFE_INTEGER : t0 + o.seconds * 1000;
  const failures = new Map<string, Failure>();
  let target = typeof o.target === 'string' ? null : o.target;
  const name = typeof o.target === 'string' ? o.target : o.target.name;
  if (!target && o.inProcess) target = await (await import('./targets/index.js')).loadTarget(name);
  if (target) {
    try {
      await target.setup?.();
      const r = await runLoop(target, {
        seed,
        start: 0,
        end: executions,
        deadline,
        seeds: o.replay ? undefined : (o.seeds ?? (await target.seeds())),
        replay: o.replay,
        onFailure: (f) => merge(failures, f),
      });
      return {
        target: name,
        executions: r.executions,
        seconds: (Date.now() - t0) / 1000,
        failures: [...failures.values()],
        seeds: r.seeds,
        corpus: r.corpus,
      };
    } finally {
      await target.close?.();
    }
  }
  return fuzzInChild(name, seed, executions, deadline, o, failures, t0);
}

export interface WireFailure extends Omit<Failure, 'input'> {
  input: string;
}
export type ChildMessage =
  | { type: 'failure'; failure: WireFailure }
  | { type: 'done'; executions: number; seeds: number; corpus: number; repeats: [string, number][] }
  | { type: 'started'; timeoutMs: number }
  | { type: 'setup-error'; message: string };
export interface ChildStart {
  target: string;
  seed: number;
  start: number;
  end: number;
  deadline: number;
  progressFile: string;
  seedsFile?: string;
  replayFile?: string;
}

/** Inputs in one file: u32 count, then (u32 length, bytes) each. */
export function packInputs(list: Uint8Array[]): Buffer {
  const parts: Buffer[] = [Buffer.alloc(4)];
  parts[0].writeUInt32LE(list.length);
  for (const x of list) {
    const h = Buffer.alloc(4);
    h.writeUInt32LE(x.length);
    parts.push(h, Buffer.from(x));
  }
  return Buffer.concat(parts);
}
export function unpackInputs(b: Buffer): Uint8Array[] {
  const n = b.readUInt32LE(0);
  const out: Uint8Array[] = [];
  let p = 4;
  for (let k = 0; k < n; k++) {
    const len = b.readUInt32LE(p);
    out.push(new Uint8Array(b.subarray(p + 4, p + 4 + len)));
    p += 4 + len;
  }
  return out;
}

/** The progress file: u32 tick (one per execution), u32 execution index, u32 length, the input. */
function readProgress(fd: number): { tick: number; index: number; input: Uint8Array } | null {
  const head = Buffer.alloc(12);
  if (readSync(fd, head, 0, 12, 0) < 12) return null;
  const len = head.readUInt32LE(8);
  const input = Buffer.alloc(len);
  const got = len ? readSync(fd, input, 0, len, 12) : 0;
  return { tick: head.readUInt32LE(0), index: head.readUInt32LE(4), input: new Uint8Array(input.subarray(0, got)) };
}

const MAX_RESTARTS = 25;

async function fuzzInChild(
  name: string,
  seed: number,
  executions: number,
  deadline: number,
  o: FuzzOptions,
  failures: Map<string, Failure>,
  t0: number,
): Promise<FuzzResult> {
  const dir = mkdtempSync(join(tmpdir(), `fmnist-fuzz-${name}-`));
  const progressFile = join(dir, 'progress.bin');
  let seedsFile: string | undefined;
  let replayFile: string | undefined;
  if (o.seeds) writeFileSync((seedsFile = join(dir, 'seeds.bin')), packInputs(o.seeds));
  if (o.replay) writeFileSync((replayFile = join(dir, 'replay.bin')), packInputs(o.replay));
  let start = 0;
  let done: number;
  let corpus = 0;
  let seeds = 0;
  try {
    for (let restarts = 0; ; restarts++) {
      writeFileSync(progressFile, Buffer.alloc(12));
      const end = executions === Infinity ? 0xffffffff : executions;
      const r = await oneChild(
        name,
        { target: name, seed, start, end, deadline, progressFile, seedsFile, replayFile },
        (f) => merge(failures, f),
        (key, n) => {
          const f = failures.get(key);
          if (f) f.count += n;
        },
      );
      corpus = Math.max(corpus, r.corpus);
      seeds = Math.max(seeds, r.seeds);
      if (r.completed) {
        done = r.executions + start;
        break;
      }
      // it died or hung at r.at: that input is the failure; go on after it
      if (r.at < 0)
        throw new Error(`fuzz target ${name}: the child process failed before its first execution (${r.why})`);
      merge(failures, r.failure!);
      start = r.at + 1;
      done = start;
      o.log?.(`${name}: ${r.failure!.key} at execution ${r.at}; restarting`);
      if (start >= executions || Date.now() >= deadline || restarts >= MAX_RESTARTS) break;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return {
    target: name,
    executions: done,
    seconds: (Date.now() - t0) / 1000,
    failures: [...failures.values()],
    seeds,
    corpus,
  };
}

interface ChildRun {
  completed: boolean;
  executions: number;
  seeds: number;
  corpus: number;
  /** Where it died or hung, or -1 before its first execution. */
  at: number;
  failure?: Failure;
  why?: string;
}

function oneChild(
  name: string,
  start: ChildStart,
  onFailure: (f: Failure) => void,
  onRepeat: (key: string, n: number) => void,
): Promise<ChildRun> {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./child.ts', import.meta.url))], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    env: { ...process.env, FMNIST_TEST: '1', FMNIST_FUZZ_CHILD: '1' },
  });
  let tail = '';
  const keep = (d: Buffer) => {
    tail = (tail + d.toString('utf8')).slice(-4000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const fd = openSync(start.progressFile, 'r');
  let timeoutMs = 2000;
  let started = false;
  let doneMsg: Extract<ChildMessage, { type: 'done' }> | null = null;
  let setupError: string | null = null;
  let hung = false;
  let lastTick = -1;
  let lastChange = Date.now();
  const startedAt = Date.now();
  // The watchdog: a synchronous hang cannot time itself out, so the parent kills a child that stops progressing.
  const watchdog = setInterval(() => {
    const p = readProgress(fd);
    const now = Date.now();
    if (p && p.tick !== lastTick) {
      lastTick = p.tick;
      lastChange = now;
      return;
    }
    const limit = started ? 3 * timeoutMs + 2000 : 120_000; // setup (a server, a model) may take a while
    if (now - (started ? lastChange : startedAt) > limit) {
      hung = true;
      child.kill('SIGKILL');
    }
  }, 100);
  child.on('message', (m: ChildMessage) => {
    if (m.type === 'failure')
      onFailure({ ...m.failure, input: new Uint8Array(Buffer.from(m.failure.input, 'base64')) });
    else if (m.type === 'started') {
      started = true;
      timeoutMs = m.timeoutMs;
      lastChange = Date.now();
    } else if (m.type === 'done') {
      doneMsg = m;
      for (const [key, n] of m.repeats) onRepeat(key, n);
    } else if (m.type === 'setup-error') setupError = m.message;
  });
  child.send(start);
  return new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      clearInterval(watchdog);
      const p = readProgress(fd);
      closeSync(fd);
      if (doneMsg && code === 0) {
        const { executions, seeds, corpus } = doneMsg;
        return resolve({ completed: true, at: -1, executions, seeds, corpus });
      }
      if (setupError) return resolve({ completed: false, executions: 0, seeds: 0, corpus: 0, at: -1, why: setupError });
      const at = p && p.tick > 0 ? p.index : -1;
      const why = hung
        ? `no progress for ${3 * timeoutMs + 2000} ms (a synchronous hang); killed`
        : `the process died (${signal ? `signal ${signal}` : `exit code ${code}`})`;
      const kind: FailureKind = hung ? 'hang' : 'abort';
      const message = `${why}${tail.trim() ? `; its output ends with:\n${tail.trim().split('\n').slice(-12).join('\n')}` : ''}`;
      resolve({
        completed: false,
        executions: 0,
        seeds: 0,
        corpus: 0,
        at,
        why: message,
        failure: {
          key: hung ? `hang ${name}: killed` : `abort ${name}: ${signal ?? `exit ${code}`}`,
          kind,
          message,
          input: p?.input ?? new Uint8Array(0),
          execution: at,
          count: 1,
        },
      });
    });
  });
}

// ---- reports ----

/** A hex preview of the start of an input. */
export function hexPreview(b: Uint8Array, n = 48): string {
  const head = Array.from(b.subarray(0, n), (x) => x.toString(16).padStart(2, '0')).join(' ');
  return `${b.length} bytes: ${head}${b.length > n ? ' ...' : ''}`;
}

/** A failure in words: its key, message, first stack lines and input. */
export function formatFailure(f: Failure, describe: (b: Uint8Array) => string = hexPreview): string {
  const stack = f.stack
    ?.split('\n')
    .filter((l) => /^\s+at /.test(l))
    .slice(0, 4)
    .join('\n');
  const b64 = f.input.length <= 3000 ? `\n  base64: ${Buffer.from(f.input).toString('base64')}` : '';
  return (
    `${f.key}  (${f.count}x, first at execution ${f.execution})\n  ${f.message.split('\n').join('\n  ')}` +
    (stack ? `\n${stack}` : '') +
    `\n  input: ${describe(f.input)}${b64}`
  );
}
