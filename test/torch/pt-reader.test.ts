// The TypeScript .pt reader (src/torch/serialization) against Python PyTorch's own files, made at test time by
// /usr/bin/python3: every registry architecture saved by torch.save in the zip and legacy formats, as an
// OrderedDict (model.state_dict()) and as a dict, read here with Python's keys, order, shapes, dtypes and bytes,
// and giving Python's eval-mode outputs; every dtype and strided view; and hostile or corrupt files (a pickled
// model, an os.system payload, truncations, flipped bytes, short storages), each a PtFormatError.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as torch from '../../src/torch/index.js';
import { MODELS, getModel } from '../../src/models/index.js';
import { native } from '../../src/native/binding.js';
import { PtFormatError, readStateDict, type PtStateDict } from '../../src/torch/serialization/pt.js';
import { PyDict, PyFloat, PyTuple, unpickle, type UnpickleHooks } from '../../src/torch/serialization/pickle.js';
import { assertClose, pythonTorchMissing, runPython } from './helpers.js';

const skip = pythonTorchMissing();
const N = 4;
/** A fixed input in [0,1): N images of 28x28. */
const input = Float32Array.from({ length: N * 784 }, (_, i) => {
  const s = Math.sin(i * 12.9898 + 78.233) * 43758.5453;
  return s - Math.floor(s);
});

const PY = String.raw`
import collections, io, json, os, pickle, pickletools, sys, zipfile
import numpy as np
import torch
torch.set_num_threads(1)
d, archs, marker = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
x = torch.from_numpy(np.fromfile(d + '/x.bin', dtype=np.float32).reshape(-1, 1, 28, 28))
report = {'archs': {}}

for arch, path in archs.items():
    ns = {}
    exec(open(path).read(), ns)
    torch.manual_seed(0)
    m = ns['build']()
    m.train()
    with torch.no_grad():
        for s in range(2):  # train-mode passes: BatchNorm statistics and num_batches_tracked move
            m(torch.rand(8, 1, 28, 28))
    m.eval()
    with torch.no_grad():
        m(x).numpy().tofile(d + '/' + arch + '-out.bin')
    sd = m.state_dict()
    torch.save(sd, d + '/' + arch + '-zip.pt')
    torch.save(sd, d + '/' + arch + '-legacy.pt', _use_new_zipfile_serialization=False)
    torch.save(dict(sd), d + '/' + arch + '-dict.pt')
    raw = b''.join(v.contiguous().numpy().tobytes() for v in sd.values())
    open(d + '/' + arch + '-raw.bin', 'wb').write(raw)
    report['archs'][arch] = [[k, list(v.shape), str(v.dtype).replace('torch.', '')] for k, v in sd.items()]

# every dtype, and views: transposed, sliced (offset and strides), two tensors sharing a storage, 0-d, empty, expanded
torch.manual_seed(1)
base = torch.randn(5, 6)
dt = collections.OrderedDict()
dt['f32'] = torch.randn(3, 4)
dt['f32_t'] = torch.randn(4, 3).t()
dt['f32_slice'] = base[1:4, 2::2]
dt['shared_a'] = base[0]
dt['shared_b'] = base[:, 5]
dt['f64'] = torch.randn(2, 3, dtype=torch.float64)
dt['f16'] = torch.tensor([1.5, -2.25, 65504.0, 6e-8, 0.0], dtype=torch.float16)
dt['bf16'] = torch.tensor([1.5, -3.0e38, 1.0e-38, 7.0], dtype=torch.bfloat16)
dt['i64'] = torch.tensor([0, -1, 2**40 + 3, 2**62 + 1, -(2**63)], dtype=torch.int64)
dt['i32'] = torch.tensor([[-(2**31), 7], [2**31 - 1, 0]], dtype=torch.int32)
dt['i16'] = torch.tensor([-32768, 32767, 5], dtype=torch.int16)
dt['i8'] = torch.tensor([-128, 127, -1], dtype=torch.int8)
dt['u8'] = torch.tensor([0, 255, 17], dtype=torch.uint8)
dt['bool'] = torch.tensor([True, False, True])
dt['scalar'] = torch.tensor(3.25)
dt['empty'] = torch.zeros(0, 3)
dt['expanded'] = torch.arange(3.0).reshape(3, 1).expand(3, 4)
torch.save(dt, d + '/dtypes-zip.pt')
torch.save(dt, d + '/dtypes-legacy.pt', _use_new_zipfile_serialization=False)
torch.save(dt, d + '/dtypes-p4.pt', pickle_protocol=4)  # FRAME, MEMOIZE, SHORT_BINUNICODE, STACK_GLOBAL
report['dtypes'] = {k: {'shape': list(v.shape), 'dtype': str(v.dtype).replace('torch.', ''),
                        'values': [str(int(e)) if v.dtype == torch.int64 else float(e) for e in v.flatten().tolist()]}
                    for k, v in dt.items()}

# a small state dict, for byte-by-byte corruption
torch.manual_seed(2)
small = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2), torch.nn.Flatten(), torch.nn.Linear(2, 3))
small[1](torch.randn(4, 2, 3, 3))
torch.save(small.state_dict(), d + '/small-zip.pt')
torch.save(small.state_dict(), d + '/small-legacy.pt', _use_new_zipfile_serialization=False)
f = open(d + '/small-legacy.pt', 'rb')
for i in range(5):
    for _ in pickletools.genops(f):  # walks one pickle, executing nothing
        pass
report['smallLegacyStorages'] = f.tell()  # where the raw storages start

# hostile: a whole pickled model, and an os.system payload (written with pickle; it must never run)
torch.save(small, d + '/model-zip.pt')
torch.save(small, d + '/model-legacy.pt', _use_new_zipfile_serialization=False)
class Evil:
    def __reduce__(self):
        return (os.system, ('touch ' + marker,))
pickle.dump(Evil(), open(d + '/evil-raw.pkl', 'wb'), protocol=2)
torch.save({'w': torch.zeros(2), 'x': Evil()}, d + '/evil-zip.pt')
torch.save({'w': torch.zeros(2), 'x': Evil()}, d + '/evil-legacy.pt', _use_new_zipfile_serialization=False)
torch.save({'w': Evil()}, d + '/evil-p4.pt', pickle_protocol=4)

def write_zip(path, records):
    with zipfile.ZipFile(path, 'w', zipfile.ZIP_STORED) as z:
        for name, data in records:
            z.writestr(name, data)

# a storage record shorter than the pickle says
with zipfile.ZipFile(d + '/small-zip.pt') as z:
    recs = [(n, z.read(n)) for n in z.namelist()]
write_zip(d + '/short-record.pt', [(n, b[: len(b) // 2] if n.endswith('/data/0') else b) for n, b in recs])

# a tensor that claims more elements than its (complete) storage holds, and the same pickle made valid
FAKE = object()
class T:
    def __init__(self, size):
        self.size = size
    def __reduce__(self):
        return (torch._utils._rebuild_tensor_v2, (FAKE, 0, self.size, (1,), False, collections.OrderedDict()))
class P(pickle.Pickler):
    def persistent_id(self, obj):
        return ('storage', torch.FloatStorage, '0', 'cpu', 4) if obj is FAKE else None
for name, size in [('overlong', (10,)), ('crafted-ok', (4,))]:
    buf = io.BytesIO()
    P(buf, protocol=2).dump(collections.OrderedDict([('w', T(size))]))
    write_zip(d + '/' + name + '.pt', [('x/data.pkl', buf.getvalue()), ('x/data/0', np.arange(4, dtype=np.float32).tobytes()), ('x/version', b'3\n')])

# the legacy format by hand, with a storage view (view_metadata, as torch < 1.0 wrote it): [2, 3, 4] of arange(6)
class V(pickle.Pickler):
    def persistent_id(self, obj):
        return ('storage', torch.FloatStorage, 'root', 'cpu', 6, ('view', 2, 3)) if obj is FAKE else None
with open(d + '/legacy-view.pt', 'wb') as f:
    for v in [0x1950a86a20f9469cfc6c, 1001, {'protocol_version': 1001, 'little_endian': True, 'type_sizes': {}}]:
        pickle.dump(v, f, protocol=2)
    V(f, protocol=2).dump(collections.OrderedDict([('w', T((3,)))]))
    pickle.dump(['root'], f, protocol=2)
    f.write((6).to_bytes(8, 'little') + np.arange(6, dtype=np.float32).tobytes())
print(json.dumps(report))
`;

interface Report {
  archs: Record<string, [string, number[], string][]>;
  dtypes: Record<string, { shape: number[]; dtype: string; values: (number | string)[] }>;
  smallLegacyStorages: number;
}

const bytesOf = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/** A PtFormatError whose message starts with the file's name (and matches `re`). */
function rejects(f: () => unknown, name: string, re?: RegExp): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof PtFormatError, `expected a PtFormatError, got ${String(e)}`);
    assert.ok(e.message.startsWith(`${name}: `), `the message names the file: ${e.message}`);
    assert.ok(!e.message.includes('\n'), `one line: ${e.message}`);
    if (re) assert.match(e.message, re);
    return true;
  });
}

describe('the .pt reader against Python PyTorch files', { skip }, () => {
  let dir = '';
  let report: Report;
  const marker = join(tmpdir(), `fmnist-pt-pwned-${process.pid}`);
  const file = (name: string) => join(dir, name);
  const read = (name: string) => readStateDict(readFileSync(file(name)), name);

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'fmnist-pt-'));
    writeFileSync(file('x.bin'), input);
    const archs = Object.fromEntries(MODELS.map((m) => [m.id, fileURLToPath(m.python)]));
    report = JSON.parse(runPython(PY, [dir, JSON.stringify(archs), marker], 300_000));
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    rmSync(marker, { force: true });
  });

  for (const spec of MODELS) {
    const arch = spec.id;
    for (const [kind, format, container] of [
      ['zip', 'zip', 'OrderedDict'],
      ['legacy', 'legacy', 'OrderedDict'],
      ['dict', 'zip', 'dict'],
    ] as const) {
      test(`${arch}, ${kind}: Python's keys in order, shapes, dtypes and bytes`, () => {
        const sd = read(`${arch}-${kind}.pt`);
        assert.equal(sd.format, format);
        assert.equal(sd.container, container);
        const want = report.archs[arch];
        assert.deepEqual(
          [...sd.tensors].map(([k, t]) => [k, t.shape, t.dtype]),
          want,
        );
        assert.ok(
          want.some(([k, , d]) => k.endsWith('num_batches_tracked') && d === 'int64') ||
            arch === 'dense' ||
            arch === 'cnn',
        );
        const raw = readFileSync(file(`${arch}-raw.bin`));
        let at = 0;
        for (const [k, t] of sd.tensors) {
          const b = bytesOf(t.data);
          assert.ok(b.equals(raw.subarray(at, at + b.length)), `${k}: bytes differ from Python's`);
          at += b.length;
        }
        assert.equal(at, raw.length);
      });
    }

    test(`${arch}: loaded strictly into our model, every format gives Python's eval-mode outputs (1e-5)`, () => {
      const b = readFileSync(file(`${arch}-out.bin`));
      const py = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
      assert.equal(py.length, N * 10);
      for (const kind of ['zip', 'legacy', 'dict']) {
        torch.withDisposeScope(() => {
          const m = getModel(arch).pytorch(torch);
          try {
            const sd = torch.load(file(`${arch}-${kind}.pt`));
            assert.deepEqual(m.loadStateDict(sd), { missing: [], unexpected: [] });
            m.eval();
            const out = torch.noGrad(() => m.call(torch.fromTypedArray(input, [N, 1, 28, 28])).toFloat32());
            assertClose(out, py, `${arch} ${kind} logits`, { rtol: 1e-5, atol: 1e-5 });
          } finally {
            m.dispose();
          }
        });
      }
    });
  }

  for (const kind of ['zip', 'legacy', 'p4']) {
    test(`dtypes and views (${kind}): values equal Python's, gathered row-major; 16-bit floats widen to float32`, () => {
      const sd = read(`dtypes-${kind}.pt`);
      const loaded: Record<string, string> = { float16: 'float32', bfloat16: 'float32', int16: 'int32', int8: 'int32' };
      assert.deepEqual([...sd.tensors.keys()], Object.keys(report.dtypes));
      for (const [k, want] of Object.entries(report.dtypes)) {
        const t = sd.tensors.get(k)!;
        assert.deepEqual(t.shape, want.shape, k);
        assert.equal(t.stored, want.dtype, k);
        assert.equal(t.dtype, loaded[want.dtype] ?? want.dtype, k);
        const got = Array.from(t.data as ArrayLike<number | bigint>, (v) => (typeof v === 'bigint' ? v.toString() : v));
        assert.deepEqual(got, want.values, k);
      }
    });
  }

  test('loadStateDict makes tensors of each dtype (bool included)', () => {
    const sd = torch.loadStateDict(readFileSync(file('dtypes-zip.pt')));
    try {
      assert.equal(sd.get('bool')!.dtype, 'bool');
      assert.equal(sd.get('i64')!.dtype, 'int64');
      assert.equal(sd.get('f16')!.dtype, 'float32');
      assert.deepEqual(sd.get('f32_t')!.shape, [3, 4]);
      assert.deepEqual(sd.get('expanded')!.tolist(), [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]);
    } finally {
      sd.forEach((t) => t.dispose());
    }
  });

  // saveStateDict writes with the TypeScript writer; model.pt files of older runs came from the addon's
  // torch::pickle_save (a dict tagged with restore_type_tag), which must still load.
  test('our own model.pt (saveStateDict, and the older torch::pickle_save) reads back bit-exact, every dtype', () => {
    torch.withDisposeScope(() => {
      const ours = new Map<string, torch.Tensor>([
        ['f32', torch.randn([3, 5])],
        ['f64', torch.tensor([1.5, -2], { dtype: 'float64' })],
        ['i64', torch.tensor([7, -9], { dtype: 'int64' })],
        ['i32', torch.tensor([3], { dtype: 'int32' })],
        ['u8', torch.tensor([200, 1], { dtype: 'uint8' })],
        ['bool', torch.tensor([1, 0, 1], { dtype: 'bool' })],
        ['scalar', torch.tensor(2.5)],
      ]);
      const older = native.pickleSave(
        [...ours.keys()],
        [...ours.values()].map((t) => t.h),
      );
      for (const bytes of [torch.saveStateDict(ours), older]) {
        const r = readStateDict(bytes, 'ours.pt');
        assert.equal(r.format, 'zip');
        assert.equal(r.container, 'dict');
        assert.deepEqual([...r.tensors.keys()], [...ours.keys()]);
        for (const [k, t] of ours) {
          const u = r.tensors.get(k)!;
          assert.equal(u.dtype, t.dtype, k);
          assert.deepEqual(u.shape, t.shape, k);
          assert.ok(bytesOf(u.data).equals(bytesOf(t.dataSync())), k);
        }
      }
    });
  });

  test('a whole pickled model (torch.save(model)) is refused, naming the class, in both formats', () => {
    for (const name of ['model-zip.pt', 'model-legacy.pt'])
      rejects(
        () => read(name),
        name,
        /the pickle refers to 'torch\.nn\.modules\.container\.Sequential', which fmnist does not load \(it only reads state dicts: tensors, storages, OrderedDict and primitives\)\. Save model\.state_dict\(\) instead\.$/,
      );
  });

  test('an os.system payload is refused where it is named, and never runs', () => {
    for (const name of ['evil-raw.pkl', 'evil-zip.pt', 'evil-legacy.pt', 'evil-p4.pt'])
      rejects(() => read(name), name, /the pickle refers to 'posix\.system'/);
    assert.equal(existsSync(marker), false, 'the payload ran');
  });

  test('a crafted pickle of a valid tensor loads; the same tensor claiming more than its storage does not', () => {
    assert.deepEqual(Array.from(read('crafted-ok.pt').tensors.get('w')!.data as Float32Array), [0, 1, 2, 3]);
    rejects(
      () => read('overlong.pt'),
      'overlong.pt',
      /'w' \(shape \[10\].*reaches element 9 of storage '0', which holds 4/,
    );
  });

  test('a legacy storage view (view_metadata) reads its slice of the root storage', () => {
    const sd = read('legacy-view.pt');
    assert.equal(sd.format, 'legacy');
    assert.deepEqual(Array.from(sd.tensors.get('w')!.data as Float32Array), [2, 3, 4]);
  });

  test('a storage record shorter than the pickle says is an error', () => {
    rejects(
      () => read('short-record.pt'),
      'short-record.pt',
      /small-zip\/data\/0 holds \d+ bytes, but storage '0' is \d+ float32 elements .* \(truncated\?\)/,
    );
  });

  test('truncated at every offset of the pickles and many of the data: always a PtFormatError', () => {
    for (const name of ['small-zip.pt', 'small-legacy.pt', 'dense-legacy.pt', 'dense-zip.pt']) {
      const b = readFileSync(file(name));
      const offsets = new Set<number>();
      for (let k = 0; k < Math.min(b.length, 3000); k++) offsets.add(k);
      for (let k = 0; k < 200; k++) offsets.add(Math.floor((k / 200) * b.length));
      for (let k = 1; k < 64; k++) offsets.add(b.length - k);
      for (const k of offsets) rejects(() => readStateDict(b.subarray(0, k), name), name);
    }
  });

  test('any byte of the legacy file flipped: a PtFormatError, or (a harmless byte) well-formed tensors', () => {
    const name = 'small-legacy.pt';
    const b = readFileSync(file(name));
    const good = readStateDict(b, name);
    let refused = 0;
    for (let k = 0; k < b.length; k++)
      for (const mask of [0xff, 0x01, 0x40]) {
        const c = Buffer.from(b);
        c[k] ^= mask;
        let r: PtStateDict;
        try {
          r = readStateDict(c, name);
        } catch (e) {
          assert.ok(e instanceof PtFormatError && e.message.startsWith(`${name}: `), `byte ${k}: ${String(e)}`);
          refused++;
          continue;
        }
        for (const [, t] of r.tensors)
          assert.equal(
            t.data.length,
            t.shape.reduce((x, y) => x * y, 1),
          );
        assert.ok(k < report.smallLegacyStorages || r.tensors.size === good.tensors.size, `byte ${k}`);
      }
    assert.ok(refused > b.length, `most flips are refused (${refused})`);
  });

  test("flipped bytes in the zip's directory or in a CRC-checked record: a PtFormatError, or the same tensors", () => {
    const name = 'small-zip.pt';
    const b = readFileSync(file(name));
    const good = readStateDict(b, name);
    const end = b.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
    const cd = b.readUInt32LE(end + 16);
    const same = (r: PtStateDict) =>
      [...good.tensors].every(([k, t]) => bytesOf(r.tensors.get(k)!.data).equals(bytesOf(t.data)));
    let refused = 0;
    // the central directory and end record; then the local headers and data.pkl at the start
    const positions = [
      ...Array.from({ length: b.length - cd }, (_, i) => cd + i),
      ...Array.from({ length: 800 }, (_, i) => i),
    ];
    for (const k of positions) {
      const c = Buffer.from(b);
      c[k] ^= 0xff;
      try {
        assert.ok(same(readStateDict(c, name)), `byte ${k} changed the tensors without an error`);
      } catch (e) {
        if (e instanceof assert.AssertionError) throw e;
        assert.ok(e instanceof PtFormatError && e.message.startsWith(`${name}: `), `byte ${k}: ${String(e)}`);
        refused++;
      }
    }
    assert.ok(refused > positions.length / 2, `most flips are refused (${refused} of ${positions.length})`);
  });

  test('a legacy storage count of 2^63-1 is refused before anything is allocated', () => {
    const name = 'small-legacy.pt';
    const c = Buffer.from(readFileSync(file(name)));
    c.writeBigInt64LE(0x7fffffffffffffffn, report.smallLegacyStorages);
    rejects(
      () => readStateDict(c, name),
      name,
      /truncated: storage '\d+' at byte \d+ says 9223372036854775807 elements/,
    );
  });
});

describe('the .pt reader on hand-made input', () => {
  const hooks: UnpickleHooks = {
    global: (m, n) => assert.fail(`global ${m}.${n}`),
    reduce: () => assert.fail('reduce'),
    build: () => assert.fail('build'),
    persistentLoad: () => assert.fail('persistentLoad'),
  };
  const vm = (...b: number[]) => unpickle(Uint8Array.from(b), 0, hooks).value;
  const bad = (b: number[], re: RegExp) =>
    assert.throws(
      () => vm(...b),
      (e: unknown) => e instanceof PtFormatError && re.test(e.message),
    );
  const STR = (s: string) => [0x8c, s.length, ...Buffer.from(s)];

  test('primitives, containers and the memo', () => {
    // {'a': (1, -2, True, None), 'b': [3.5, 2**70]}, 'a' memoized with BINPUT and fetched with BINGET
    const v = vm(
      ...[0x80, 2, 0x7d, 0x28, ...STR('a'), 0x71, 0],
      ...[0x28, 0x4b, 1, 0x4a, 0xfe, 0xff, 0xff, 0xff, 0x88, 0x4e, 0x74],
      ...[...STR('b'), 0x5d, 0x47, 0x40, 0x0c, 0, 0, 0, 0, 0, 0, 0x61],
      ...[0x8a, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0x40, 0x61, 0x75, 0x68, 0, 0x30, 0x2e],
    );
    assert.ok(v instanceof PyDict);
    const [[ka, va], [kb, vb]] = [...v.entries()];
    assert.equal(ka, 'a');
    assert.deepEqual(va, new PyTuple([1, -2, true, null]));
    assert.equal(kb, 'b');
    assert.deepEqual(vb, [new PyFloat(3.5), 2n ** 70n]);
  });

  test('malformed pickles: each a PtFormatError that says what and where', () => {
    bad([], /no STOP opcode/);
    bad([0x80, 2, 0xff], /unknown opcode 0xff at byte 2/);
    bad([0x80, 2, 0x52, 0x2e], /stack underflow at REDUCE at byte 2/);
    bad([0x80, 2, 0x68, 5, 0x2e], /memo key 5 not found \(BINGET at byte 2\)/);
    bad([0x80, 2, 0x4e, 0x74, 0x2e], /TUPLE at byte 3 without a MARK/);
    bad([0x80, 2, 0x58, 0xff, 0xff, 0xff, 0x7f], /truncated: BINUNICODE at byte 2 needs 2147483647 more bytes, 0 left/);
    bad(
      [0x80, 4, 0x8e, 0, 0, 0, 0, 0, 0, 0, 0x10],
      /BINBYTES8 at byte 2 gives a length of \d+, more than the whole file/,
    );
    bad([0x80, 2, 0x8b, 0, 0, 0, 1], /LONG4 at byte 2 holds a 16777216-byte integer|truncated/);
    bad([0x80, 9, 0x2e], /protocol 9/);
    bad([0x80, 2, 0x4e, 0x4e, 0x2e], /STOP with 2 values on the stack/);
    bad([0x80, 2, 0x29, 0x29, 0x81, 0x2e], /opcode NEWOBJ at byte 4 is not used in state dicts/);
    bad([0x80, 2, 0x5d, 0x5d, 0x73, 0x2e], /stack underflow|SETITEM at byte 4 on a list, not a dict/);
    bad([0x80, 2, 0x7d, 0x5d, 0x4e, 0x73, 0x2e], /a dict key is a list/);
    bad([0x80, 2, 0x58, 2, 0, 0, 0, 0xc3, 0x28, 0x2e], /not UTF-8/);
  });

  test('a tuple nested 200,000 deep is read without recursion and refused as not a state dict', () => {
    const b = new Uint8Array(200_004);
    b.set([0x80, 2, 0x29]);
    b.fill(0x85, 3, 200_003); // TUPLE1, again and again
    b[200_003] = 0x2e;
    assert.ok(unpickle(b, 0, hooks).value instanceof PyTuple);
    assert.throws(
      () => readStateDict(b, 'deep.pt'),
      /^PtFormatError: deep\.pt: not a PyTorch file: it starts with a pickle of a tuple/,
    );
  });

  test('not a .pt file at all, and Python-style misuse of allowed globals', () => {
    assert.throws(() => readStateDict(Buffer.from('hello'), 'a.txt'), /^PtFormatError: a\.txt: not a PyTorch file/);
    assert.throws(() => readStateDict(new Uint8Array(0), 'e.pt'), /^PtFormatError: e\.pt: the file is empty$/);
    // a legacy-looking pickle that is a dict, not the magic number
    assert.throws(
      () => readStateDict(Uint8Array.from([0x80, 2, 0x7d, 0x2e]), 'x.pt'),
      /x\.pt: not a PyTorch file: it starts with a pickle of a dict, not torch\.save's magic number/,
    );
    // GLOBAL torch.FloatStorage called with REDUCE
    const g = (m: string, n: string) => [0x63, ...Buffer.from(`${m}\n${n}\n`)];
    const magic = [0x80, 2, 0x8a, 10, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e];
    assert.throws(
      () =>
        readStateDict(Uint8Array.from([...magic, 0x80, 2, ...g('torch', 'FloatStorage'), 0x29, 0x52, 0x2e]), 'y.pt'),
      /y\.pt: the pickle calls a global 'torch\.FloatStorage', which cannot be called/,
    );
    assert.throws(
      () => readStateDict(Uint8Array.from([...magic, 0x80, 2, ...g('builtins', 'eval'), 0x2e]), 'z.pt'),
      /z\.pt: the pickle refers to 'builtins\.eval', which fmnist does not load/,
    );
  });
});
