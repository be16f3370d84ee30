// A bounded fuzzing run of every input reader (fixed seed, fixed execution counts), the regression inputs of the
// bugs fuzzing found (test/fixtures/fuzz/<target>/), and the harness itself on planted bugs. A failure prints each
// failing input (and writes it to test-artifacts/fuzz/). Longer runs: bench/fuzz.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatFailure, fuzz, unclear, type FuzzResult, type FuzzTarget } from './harness.js';
import { loadTarget } from './targets/index.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/fuzz/', import.meta.url));
const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/fuzz/', import.meta.url));
const SEED = 20240613;

/** Executions per target: about 3 s each on a 2-core machine. */
const BUDGET: Record<string, number> = { idx: 2500, image: 1200, pt: 2000, config: 3000, runjson: 300, serve: 700 };

async function assertClean(r: FuzzResult, what: string): Promise<void> {
  if (r.failures.length === 0) return;
  const t = await loadTarget(r.target);
  const dir = join(ARTIFACTS, r.target);
  mkdirSync(dir, { recursive: true });
  r.failures.forEach((f, i) => writeFileSync(join(dir, `${what}-${i}.bin`), f.input));
  assert.fail(
    `${r.target} (${what}): ${r.failures.length} unique failure(s) in ${r.executions} executions ` +
      `(inputs in ${dir}):\n\n${r.failures.map((f) => formatFailure(f, t.describe?.bind(t))).join('\n\n')}`,
  );
}

for (const [name, executions] of Object.entries(BUDGET)) {
  test(`fuzz ${name}: ${executions} executions, no crash, hang or unclear error`, async () => {
    const r = await fuzz({ target: name, executions, seed: SEED });
    assert.equal(r.executions, executions);
    await assertClean(r, 'fuzz');
    // the mutations reach somewhere: inputs with new outcomes joined the seeds
    assert.ok(r.corpus > r.seeds, `${name}: the corpus never grew past its ${r.seeds} seeds`);
  });
}

test('the inputs of the bugs fuzzing found still pass (test/fixtures/fuzz)', async () => {
  const targets = readdirSync(FIXTURES).filter((d) => existsSync(join(FIXTURES, d)));
  assert.ok(targets.length >= 4, `fixtures for ${targets.join(', ')}`);
  for (const name of targets) {
    const files = readdirSync(join(FIXTURES, name)).sort();
    const replay = files.map((f) => new Uint8Array(readFileSync(join(FIXTURES, name, f))));
    const r = await fuzz({ target: name, replay });
    assert.equal(r.executions, files.length, name);
    await assertClean(r, 'regression');
  }
});

test('a 20 MB upload gets its 413, as JSON, raw or as a multipart file', async () => {
  const serve = await import('./targets/serve.js');
  await serve.target.setup!();
  try {
    const big = new Uint8Array(20_000_000);
    const boundary = 'fuzzBoundary7MA4YWxkTrZu0gW';
    const head = `--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="big.png"\r\nContent-Type: image/png\r\n\r\n`;
    const form = Buffer.concat([Buffer.from(head), big, Buffer.from(`\r\n--${boundary}--\r\n`)]);
    for (const [type, body] of [
      ['image/png', big],
      [`multipart/form-data; boundary=${boundary}`, new Uint8Array(form)],
    ] as const) {
      const req = { m: 'POST', u: '/v1/predict', h: { 'content-type': type }, body };
      const a = await serve.send(req);
      assert.equal(a.status, 413, `${type}: ${a.status} ${a.body.toString().slice(0, 200)}`);
      assert.equal(JSON.parse(a.body.toString()).error, 'too_large');
      serve.checkAnswer(req, a);
    }
  } finally {
    await serve.target.close!();
  }
});

// ---- the harness ----

test('harness: what counts as an unclear error', () => {
  assert.match(unclear(new TypeError('x is not a function'))!, /TypeError/);
  assert.match(unclear(new Error("Cannot read properties of undefined (reading 'dir')"))!, /unclear/);
  assert.match(unclear(new Error('storage has tuple [object Object] elements'))!, /unclear/);
  assert.match(unclear('a string')!, /not an Error/);
  assert.match(unclear(new Error("run.json: unknown framework 'undefined'"))!, /unclear/);
  assert.equal(unclear(new Error('run.json: params must be a number >= 0 (got "x")')), null);
  // a quoted echo of the input is not the message's own words
  assert.equal(unclear(new Error('f2: not an IDX file (starts with 9e f3 4e 61 4e "..NaN")')), null);
});

test('harness: a replay in the child process catches an exception, a hang, an abort and a promise that never settles', async () => {
  const b = (c: string) => new Uint8Array([c.charCodeAt(0), 0]);
  const r = await fuzz({ target: 'planted', replay: ['A', 'B', 'C', 'A', 'D', 'E', 'B', 'A'].map(b) });
  // the child was restarted after the hang and the abort, and went on to the end
  assert.equal(r.executions, 8);
  const got = r.failures.map((f) => [f.kind, f.execution, f.count, f.input[0]]);
  assert.deepEqual(got, [
    ['exception', 1, 2, 0x42],
    ['hang', 2, 1, 0x43],
    ['abort', 4, 1, 0x44],
    ['hang', 5, 1, 0x45],
  ]);
  assert.match(r.failures[0].message, /Cannot read properties of undefined/);
  assert.match(r.failures[2].key, /SIGABRT/);
});

test('harness: mutations find a planted bug, the same way for the same seed, and shrink its input', async () => {
  // the bug: a 0xff first byte in an input of 4 bytes or more (the seed is "AAAAAAAA")
  const planted: FuzzTarget = {
    name: 'toy',
    seeds: () => [new TextEncoder().encode('AAAAAAAA')],
    run(input) {
      if (input.length >= 4 && input[0] === 0xff) new Uint8Array(-1);
      throw new Error('not a toy file');
    },
    expected: (e) => (e as Error).message === 'not a toy file',
  };
  const a = await fuzz({ target: planted, executions: 400, seed: 3 });
  const b = await fuzz({ target: planted, executions: 400, seed: 3 });
  assert.equal(a.failures.length, 1, a.failures.map((f) => formatFailure(f)).join('\n'));
  const f = a.failures[0];
  assert.equal(f.kind, 'exception');
  assert.match(f.key, /RangeError/);
  assert.equal(f.input.length, 4, 'shrunk to the smallest input that fails');
  assert.deepEqual(
    b.failures.map((x) => [x.key, x.execution, x.count]),
    [[f.key, f.execution, f.count]],
  );
  const c = await fuzz({ target: planted, executions: 400, seed: 4 });
  assert.notDeepEqual(c.failures[0]?.execution, f.execution, 'another seed, other inputs');
});
