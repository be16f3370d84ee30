// tfjs-core's own op specs (node_modules/@tensorflow/tfjs-core/dist/ops/**/*_test.js, jasmine) run against the backend
// 'torch' with every size forced native, as tfjs-node runs them against itself. Any failing spec fails this test;
// IGNORE lists the specs known to differ, each with its reason. FMNIST_TFJS_CORE_BACKEND=cpu runs them on tfjs's cpu
// backend instead (the reference: all pass there). FMNIST_TFJS_CORE_FILTER=substring runs only the specs whose full
// name contains it.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { createRequire, register } from 'node:module';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { kernelStats, registerTorchBackend, resetKernelStats } from '../../src/tfjs-backend/index.js';
import { setNativeThreshold } from '../../src/tfjs-backend/kernel_utils.js';

/** Specs (substrings of their full names) left out on 'torch', with why. Keep it empty unless there is a reason. */
const IGNORE: { spec: string; reason: string }[] = [];

/** A floor on the number of specs that run, so that specs silently failing to load can't pass as "no failures". */
const MIN_SPECS = 3400;

interface SpecResult {
  fullName: string;
  status: string;
  failedExpectations: { message: string }[];
}

const require = createRequire(import.meta.url);
const coreDist = join(require.resolve('@tensorflow/tfjs-core/package.json'), '..', 'dist');
const load = (path: string) => import(pathToFileURL(join(coreDist, path)).href);

async function runSpecs(backendName: string, filter: string | undefined) {
  // 1. The specs' imports (extensionless, seedrandom's named exports): see hooks.mjs.
  register('./hooks.mjs', import.meta.url);
  // 2. jasmine_util.js loads jasmine-core with require(), which ES modules don't have.
  (globalThis as { require?: NodeRequire }).require = require;
  // 3. jasmine's globals (describe, it, expect, ...).
  const jasmine = require('jasmine-core').boot();
  jasmine.DEFAULT_TIMEOUT_INTERVAL = 20000;
  // 4. tfjs-core's gradients and chained ops (tensor.add(...)), which its index.js leaves to the bundles.
  await load('register_all_gradients.js');
  await load('public/chained_ops/register_all_chained_ops.js');

  registerTorchBackend();
  setNativeThreshold(0);
  const jasmineUtil = await load('jasmine_util.js');
  jasmineUtil.setTestEnvs([{ name: backendName, backendName, flags: {}, isDataSync: true }]);

  // ops/ and its folders (fused/, image/, linalg/, ...), in a fixed order.
  const files = (readdirSync(join(coreDist, 'ops'), { recursive: true }) as string[])
    .filter((f) => f.endsWith('_test.js'))
    .sort();
  for (const f of files) await load(join('ops', f));

  const results: SpecResult[] = [];
  const globalErrors: string[] = [];
  const env = jasmine.getEnv();
  const ignored = backendName === 'cpu' ? [] : IGNORE;
  env.configure({
    random: false,
    specFilter: (spec: { getFullName(): string }) => {
      const name = spec.getFullName();
      return (!filter || name.includes(filter)) && !ignored.some((i) => name.includes(i.spec));
    },
  });
  env.addReporter({
    specDone: (r: SpecResult) => results.push(r),
    suiteDone: (r: SpecResult) => {
      for (const e of r.failedExpectations) globalErrors.push(`${r.fullName}: ${e.message}`);
    },
    jasmineDone: (r: { failedExpectations: { message: string }[] }) => {
      for (const e of r.failedExpectations) globalErrors.push(e.message);
    },
  });
  resetKernelStats();
  await env.execute();
  return { files: files.length, results, globalErrors, ignored: ignored.length };
}

test('tfjs-core op specs pass on the torch backend (every size native)', async (t) => {
  const backendName = process.env.FMNIST_TFJS_CORE_BACKEND ?? 'torch';
  const filter = process.env.FMNIST_TFJS_CORE_FILTER;
  const start = performance.now();
  const { files, results, globalErrors, ignored } = await runSpecs(backendName, filter);
  const ran = results.filter((r) => r.status === 'passed' || r.status === 'failed');
  const other = results.length - ran.length; // excluded by the filter or IGNORE, or pending (xit in tfjs-core)
  const failed = results.filter((r) => r.status === 'failed');
  const seconds = ((performance.now() - start) / 1000).toFixed(1);
  t.diagnostic(
    `${backendName}: ${files} spec files, ${ran.length} specs run, ${ran.length - failed.length} passed, ` +
      `${failed.length} failed, ${other} not run (${ignored} IGNORE entries, filter, or pending), ${seconds} s`,
  );
  const nativeCalls = Object.values(kernelStats().native).reduce((a, b) => a + b, 0);
  t.diagnostic(`${nativeCalls} native kernel calls`);
  if (backendName === 'torch') assert.ok(nativeCalls > 0, 'no kernel ran natively');
  const report = failed.map((r) => `${r.fullName}\n    ${r.failedExpectations.map((e) => e.message).join('\n    ')}`);
  assert.deepEqual(globalErrors, [], 'errors outside specs');
  assert.equal(failed.length, 0, `${failed.length} tfjs-core specs failed on '${backendName}':\n${report.join('\n')}`);
  if (!filter) assert.ok(ran.length >= MIN_SPECS, `only ${ran.length} specs ran (expected >= ${MIN_SPECS})`);
});
