// The long fuzzing mode: every target (or the ones named) for a while each, then a table of executions, speed and
// unique failures; each failing input is saved with its report. The bounded run is test/fuzz/fuzz.test.ts.
//
//   node --import tsx bench/fuzz.ts --seconds 300 [--target idx,pt] [--seed 7] [--out test-artifacts/fuzz-long]
//
// --seconds is per target. The seed defaults to a new one each time (printed, so a run can be repeated).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { formatFailure, fuzz, type FuzzResult } from '../test/fuzz/harness.js';
import { TARGET_NAMES, loadTarget } from '../test/fuzz/targets/index.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    target: { type: 'string', multiple: true },
    seed: { type: 'string' },
    out: { type: 'string', default: 'test-artifacts/fuzz-long' },
  },
});
const seconds = Number(values.seconds);
if (!(seconds > 0)) throw new Error(`--seconds ${values.seconds}: expected a number of seconds > 0`);
const names = (values.target ?? TARGET_NAMES.filter((t) => t !== 'planted')).flatMap((t) => t.split(','));
for (const n of names)
  if (!TARGET_NAMES.includes(n)) throw new Error(`--target ${n}: known: ${TARGET_NAMES.join(', ')}`);
const seed = values.seed !== undefined ? Number(values.seed) : Date.now() % 2 ** 31;
const out = resolve(values.out);

console.log(`fuzzing ${names.join(', ')} for ${seconds} s each, seed ${seed}; failing inputs go to ${out}`);
const results: FuzzResult[] = [];
for (const name of names) {
  const r = await fuzz({ target: name, seconds, seed, log: (l) => console.log(`  ${l}`) });
  results.push(r);
  const t = await loadTarget(name);
  r.failures.forEach((f, i) => {
    const dir = join(out, name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${i}.bin`), f.input);
    writeFileSync(join(dir, `${i}.txt`), `${formatFailure(f, t.describe?.bind(t))}\n`);
    console.log(`\n${formatFailure(f, t.describe?.bind(t))}\n  saved: ${join(dir, `${i}.bin`)}`);
  });
  console.log(`${name}: ${r.executions} executions, ${r.failures.length} unique failures`);
}

const rows = [
  ['target', 'executions', 'exec/s', 'corpus', 'unique failures'],
  ...results.map((r) => [
    r.target,
    String(r.executions),
    (r.executions / r.seconds).toFixed(0),
    String(r.corpus),
    String(r.failures.length),
  ]),
];
const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
console.log(`\nseed ${seed}, ${seconds} s per target`);
for (const row of rows) console.log(row.map((x, c) => (c ? x.padStart(widths[c]) : x.padEnd(widths[c]))).join('  '));
process.exitCode = results.some((r) => r.failures.length) ? 1 : 0;
