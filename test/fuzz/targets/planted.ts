// Target: planted bugs, for the harness's own test (test/fuzz/fuzz.test.ts): the first byte of an input picks
// what happens, so a replay of chosen inputs shows that each kind of failure is caught in the child process.
import { type FuzzTarget } from '../harness.js';

export class PlantedError extends Error {}

export const target: FuzzTarget = {
  name: 'planted',
  seeds: () => [new Uint8Array([0x41, 0, 0, 0])],
  run(input) {
    switch (input[0]) {
      case 0x42: // 'B': a bug that reads past what it has
        return (undefined as unknown as { x: number }).x;
      case 0x43: {
        // 'C': a synchronous hang (bounded, so that even in-process it ends)
        const until = Date.now() + 20_000;
        while (Date.now() < until);
        return;
      }
      case 0x44: // 'D': native code aborting; only in the child process, never the test's own
        if (process.env.FMNIST_FUZZ_CHILD) process.abort();
        throw new PlantedError('abort skipped in-process');
      case 0x45: // 'E': an answer that never comes
        return new Promise(() => {});
      default:
        throw new PlantedError(`input starting with ${input[0]}`);
    }
  },
  expected: (e) => e instanceof PlantedError,
  timeoutMs: 300,
};
