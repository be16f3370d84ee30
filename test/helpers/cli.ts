// Runs the fmnist CLI in this process and captures what it prints and its exit code.
import { main } from '../../src/cli/index.js';

export async function cli(args: string[]): Promise<{ stdout: string; stderr: string; exitCode: number }> {
  const out: string[] = [];
  const err: string[] = [];
  const log = console.log;
  const write = process.stderr.write;
  const saved = process.exitCode;
  process.exitCode = undefined;
  console.log = (...a: unknown[]) => void out.push(a.map(String).join(' '));
  process.stderr.write = ((chunk: string | Uint8Array) => (
    err.push(String(chunk)),
    true
  )) as typeof process.stderr.write;
  try {
    await main(['node', 'fmnist', ...args]);
    return { stdout: out.join('\n'), stderr: err.join(''), exitCode: Number(process.exitCode ?? 0) };
  } finally {
    console.log = log;
    process.stderr.write = write;
    process.exitCode = saved;
  }
}
