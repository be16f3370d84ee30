#!/usr/bin/env node
// Builds the libtorch addon with node-gyp. Skips the build when the .node file is newer
// than every source, so `npm run build` stays quick after the first time.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';

// Two builds in one tree at once corrupt each other: serialize them with flock(1).
if (!process.env.FMNIST_BUILD_LOCKED && spawnSync('flock', ['--version']).status === 0) {
  const r = spawnSync('flock', ['build.lock', process.execPath, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, FMNIST_BUILD_LOCKED: '1' },
  });
  process.exit(r.status ?? 1);
}

const out = 'build/Release/fmnist_torch.node';
const nativeFiles = readdirSync('native', { recursive: true })
  .map((f) => join('native', f))
  .filter((f) => statSync(f).isFile()); // native/ and its folders (native/tfjs/)
const sources = ['binding.gyp', 'scripts/find-libtorch.mjs', ...nativeFiles];
const stale =
  process.argv.includes('--force') ||
  !existsSync(out) ||
  sources.some((s) => statSync(s).mtimeMs > statSync(out).mtimeMs);
if (!stale) {
  console.log(`fmnist: native addon is up to date (${out})`);
  process.exit(0);
}
const check = spawnSync(process.execPath, ['scripts/find-libtorch.mjs'], { stdio: ['ignore', 'pipe', 'inherit'] });
if (check.status !== 0) process.exit(1);
const lt = JSON.parse(check.stdout.toString());
console.log(`fmnist: building the native addon against libtorch from ${lt.source}`);
const gyp = join('node_modules', 'node-gyp', 'bin', 'node-gyp.js');
const jobs = String(Math.max(1, Math.min(4, (await import('node:os')).availableParallelism())));
// Node's own headers when the system has them: node-gyp would otherwise download them.
// The headers sit beside the running node: /usr for distro packages, /usr/local for tarballs.
const prefix = dirname(dirname(process.execPath));
const nodedir =
  process.env.npm_config_nodedir ?? [prefix, '/usr'].find((d) => existsSync(join(d, 'include/node/node_api.h')));
const args = [gyp, existsSync('build/Makefile') ? 'build' : 'rebuild', '--jobs', jobs];
if (nodedir) args.push(`--nodedir=${nodedir}`);
const r = spawnSync(process.execPath, args, {
  stdio: 'inherit',
});
process.exit(r.status ?? 1);
