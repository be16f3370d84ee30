#!/usr/bin/env node
// Copies the files tsc does not emit but the built code reads beside itself (the registry's model .py files).
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';

for (const f of readdirSync('src/models')) {
  if (!f.endsWith('.py')) continue;
  const to = join('dist/src/models', f);
  mkdirSync(dirname(to), { recursive: true });
  copyFileSync(join('src/models', f), to);
}
