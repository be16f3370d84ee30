#!/usr/bin/env node
// Finds libtorch for binding.gyp, in the order tch-rs uses:
//   1. LIBTORCH_USE_PYTORCH=1 -> ask python3 where torch keeps headers and libs
//   2. LIBTORCH=/dir          -> /dir/include and /dir/lib
//   3. Debian's libtorch-dev  -> /usr/include/torch, /usr/lib/<multiarch>
// Prints one field (--include, --lib, --defines, --describe) for gyp's <!@(...) expansion.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

function fail(msg) {
  process.stderr.write(
    `fmnist: ${msg}\n` +
      'libtorch was not found. Provide it in one of these ways:\n' +
      '  1. LIBTORCH_USE_PYTORCH=1   use the torch package of `python3` (pip or Debian python3-torch)\n' +
      '  2. LIBTORCH=/path/to/libtorch   a folder with include/ and lib/ (e.g. an unpacked pytorch.org download, CPU or CUDA)\n' +
      '  3. apt-get install libtorch-dev   Debian/Ubuntu system package (headers in /usr/include/torch)\n',
  );
  process.exit(1);
}

function fromPython() {
  const py = process.env.PYTHON || 'python3';
  const code =
    'import json, torch, torch.utils.cpp_extension as c;' +
    'print(json.dumps({"include": c.include_paths(), "lib": c.library_paths(), "abi": int(torch._C._GLIBCXX_USE_CXX11_ABI), "version": torch.__version__}))';
  let out;
  try {
    out = execFileSync(py, ['-c', code], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    fail(`LIBTORCH_USE_PYTORCH=1 is set, but \`${py} -c "import torch"\` failed`);
  }
  const j = JSON.parse(out.trim().split('\n').pop());
  return { source: `python (${j.version})`, include: j.include, lib: j.lib, abi: j.abi };
}

function fromDir(dir) {
  const inc = join(dir, 'include');
  const lib = join(dir, 'lib');
  if (!existsSync(join(inc, 'torch')) || !existsSync(lib)) {
    fail(`LIBTORCH=${dir} does not hold include/torch and lib/`);
  }
  // pytorch.org ships both C++ ABIs; the pre-cxx11 one needs LIBTORCH_CXX11_ABI=0.
  const abi = process.env.LIBTORCH_CXX11_ABI === undefined ? null : Number(process.env.LIBTORCH_CXX11_ABI);
  return { source: `LIBTORCH=${dir}`, include: [inc, join(inc, 'torch/csrc/api/include')], lib: [lib], abi };
}

function fromSystem() {
  const libDirs = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib'];
  const lib = libDirs.find((d) => existsSync(join(d, 'libtorch.so')));
  if (!existsSync('/usr/include/torch/csrc/api/include/torch/torch.h') || !lib) return null;
  return {
    source: 'system (libtorch-dev)',
    include: ['/usr/include', '/usr/include/torch/csrc/api/include'],
    lib: [lib],
    abi: 1,
  };
}

export function findLibtorch() {
  if (process.env.LIBTORCH_USE_PYTORCH === '1') return fromPython();
  if (process.env.LIBTORCH) return fromDir(process.env.LIBTORCH);
  return fromSystem() ?? fail('no system install in /usr/include/torch');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const t = findLibtorch();
  const what = process.argv[2];
  if (what === '--include') console.log(t.include.join(' '));
  else if (what === '--lib') console.log(t.lib.join(' '));
  else if (what === '--ldflags') console.log(t.lib.map((d) => `-L${d} -Wl,-rpath,${d}`).join(' '));
  else if (what === '--libs') console.log('-Wl,--no-as-needed -ltorch -ltorch_cpu -lc10');
  else if (what === '--defines') console.log(t.abi === null ? '' : `_GLIBCXX_USE_CXX11_ABI=${t.abi}`);
  else console.log(JSON.stringify(t, null, 2));
}
