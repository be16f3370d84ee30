// Bad options of any subcommand end in a message and an exit code, not process.exit: the CLI runs in-process in
// tests and in embedders, which a process.exit would kill.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cli } from '../helpers/cli.js';

for (const args of [
  ['train', '--framework', 'foo'],
  ['train', '--bogus'],
  ['evaluate'],
  ['serve', '--port'],
  ['ensemble', '--tta'],
]) {
  test(`fmnist ${args.join(' ')}: an error and exit code 1, and the process lives on`, async () => {
    const r = await cli(args);
    assert.equal(r.exitCode, 1);
    assert.match(r.stderr, /error: /);
  });
}

test('fmnist train --help exits 0', async () => {
  const r = await cli(['train', '--help']);
  assert.equal(r.exitCode, 0);
});
