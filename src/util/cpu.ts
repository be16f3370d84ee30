// What the CPU can do natively, from /proc/cpuinfo (Linux); elsewhere nothing is assumed.
import { readFileSync } from 'node:fs';

let flags: Set<string> | null = null;

/** The CPU's feature flags (`avx512_bf16`, `amx_bf16`, ...); empty where /proc/cpuinfo cannot be read. */
export function cpuFlags(): Set<string> {
  if (flags) return flags;
  try {
    const line = /^flags\s*:(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    flags = new Set(line ? line[1].trim().split(/\s+/) : []);
  } catch {
    flags = new Set();
  }
  return flags;
}

/** Whether bfloat16 matrix products run in hardware (AVX512-BF16 or AMX); elsewhere oneDNN emulates them, slower than float32. */
export const cpuHasBf16 = () => cpuFlags().has('avx512_bf16') || cpuFlags().has('amx_bf16');
