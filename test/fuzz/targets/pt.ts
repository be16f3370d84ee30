// Target: the .pt reader (src/torch/serialization: zip, pickle, pt.ts) through torch.loadStateDict, which also
// makes libtorch tensors of what it read (native code: this target runs in a child process). Seeds: torch.save
// files from Python (committed, test/fixtures/torch/fuzz/gen.py) and one written by our own saveStateDict.
// Mutations reach past the zip's CRC-32s: a record (the pickle, most often) is mutated and the archive rebuilt.
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as torch from '../../../src/torch/index.js';
import { PtFormatError } from '../../../src/torch/serialization/pt.js';
import { invariant, unclear, type FuzzTarget } from '../harness.js';
import { mutateBytes, type Rng } from '../mutate.js';
import { concat, writeZip, zipRecords, type ZipRecord } from '../formats.js';

const FIXTURES = fileURLToPath(new URL('../../fixtures/torch/fuzz/', import.meta.url));

const latin1 = (s: string) => new Uint8Array(Buffer.from(s, 'latin1'));
const u32le = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return b;
};

/** Snippets of pickle: opcodes with arguments, the globals PyTorch's files name, and some they must not. */
function pickleSnippet(rng: Rng): Uint8Array {
  const str = () =>
    rng.pick(['storage', '0', '1', 'cpu', 'weight', 'bias', 'a', '', 'little', 'x'.repeat(rng.int(300))]);
  const u = (s: string) => concat([new Uint8Array([0x58]), u32le(s.length), latin1(s)]);
  const global = () =>
    latin1(
      `c${rng.pick([
        'collections\nOrderedDict',
        'torch._utils\n_rebuild_tensor_v2',
        'torch._utils\n_rebuild_parameter',
        'torch\nFloatStorage',
        'torch\nLongStorage',
        'torch\nHalfStorage',
        'torch\nBoolStorage',
        'torch\nSize',
        'torch\ndevice',
        'torch._tensor\n_rebuild_from_type_v2',
        'torch.jit._pickle\nrestore_type_tag',
        'os\nsystem',
        'builtins\neval',
        'torch\nTensor',
      ])}\n`,
    );
  switch (rng.int(12)) {
    case 0:
      return global();
    case 1:
      return u(str());
    case 2:
      return new Uint8Array([0x4b, rng.u32() & 0xff]); // BININT1
    case 3:
      return concat([new Uint8Array([0x4a]), u32le(rng.pick([0, 1, -1, 0x7fffffff, -0x80000000, 784, rng.u32()]))]);
    case 4:
      return new Uint8Array([0x8a, 8, ...rng.bytes(8)]); // LONG1
    case 5:
      return new Uint8Array([
        rng.pick([0x28, 0x74, 0x85, 0x86, 0x87, 0x29, 0x7d, 0x5d, 0x73, 0x75, 0x61, 0x65, 0x6c, 0x64]),
      ]);
    case 6:
      return new Uint8Array([rng.pick([0x52, 0x62, 0x51, 0x93, 0x94, 0x30, 0x31, 0x32, 0x2e, 0x4e, 0x88, 0x89])]);
    case 7:
      return new Uint8Array([rng.pick([0x71, 0x68]), rng.int(40)]); // BINPUT / BINGET
    case 8:
      return new Uint8Array([0x6a, ...u32le(rng.pick([0, 1, 5, 0xffffffff]))]); // LONG_BINGET
    case 9:
      return new Uint8Array([0x95, ...rng.bytes(8)]); // FRAME with a random length
    case 10:
      return new Uint8Array([0x8c, rng.int(256), ...latin1(str())]); // SHORT_BINUNICODE, maybe a wrong length
    default:
      return rng.bytes(rng.small(4));
  }
}

/** A pickle mutation: snippets inserted or overwritten at random points, or plain byte mutations. */
function mutatePickle(p: Uint8Array, rng: Rng): Uint8Array {
  if (rng.chance(0.4)) return mutateBytes(p, rng, p);
  let out = p;
  for (let k = rng.small(3); k > 0; k--) {
    const at = rng.int(out.length + 1);
    const s = pickleSnippet(rng);
    out = rng.chance(0.6)
      ? concat([out.subarray(0, at), s, out.subarray(at)])
      : concat([out.subarray(0, at), s, out.subarray(Math.min(out.length, at + s.length))]);
  }
  return out;
}

/** Rebuilds the archive with one record changed (or one added, dropped or renamed), CRCs right. */
function mutateArchive(records: ZipRecord[], rng: Rng): Uint8Array {
  const recs = records.map((r) => ({ ...r }));
  const pkl = recs.find((r) => r.name.endsWith('/data.pkl'));
  const r = rng.float();
  if (pkl && r < 0.6) pkl.data = mutatePickle(pkl.data, rng);
  else if (r < 0.8) {
    const x = rng.pick(recs);
    x.data = mutateBytes(x.data, rng, x.data);
  } else if (r < 0.9) {
    const x = rng.pick(recs);
    x.name = rng.pick([
      x.name.replace(/\/[^/]*$/, '/data.pkl'),
      `${x.name}x`,
      x.name.replace(/^[^/]+/, 'other'),
      x.name.slice(1),
      '',
    ]);
  } else if (r < 0.95) recs.splice(rng.int(recs.length), 1);
  else recs.push({ ...rng.pick(recs) }); // a duplicate name
  return writeZip(recs, { align: rng.chance(0.7) ? 64 : undefined, zip64: rng.chance(0.15) });
}

function tinyStateDict(): Uint8Array {
  const sd = new Map<string, torch.Tensor>([
    [
      'fc.weight',
      torch.fromTypedArray(
        Float32Array.from({ length: 6 }, (_, i) => i / 7),
        [2, 3],
      ),
    ],
    ['fc.bias', torch.fromTypedArray(new Float32Array([0.5, -1]), [2])],
    ['bn.num_batches_tracked', torch.fromTypedArray(new BigInt64Array([3n]), [])],
  ]);
  try {
    return new Uint8Array(torch.saveStateDict(sd));
  } finally {
    sd.forEach((t) => t.dispose());
  }
}

let seeds: Uint8Array[] = [];

export const target: FuzzTarget = {
  name: 'pt',
  setup() {
    torch.setNumThreads(1);
    const files = readdirSync(FIXTURES)
      .filter((f) => f.endsWith('.pt'))
      .sort();
    seeds = [...files.map((f) => new Uint8Array(readFileSync(FIXTURES + f))), tinyStateDict()];
  },
  seeds: () => seeds,
  generateRate: 0.05,
  generate(rng) {
    // an archive whose data.pkl is made of snippets only
    const pkl = concat([
      new Uint8Array([0x80, 2]),
      ...Array.from({ length: rng.small(30, 0.9) }, () => pickleSnippet(rng)),
      new Uint8Array([0x2e]),
    ]);
    const recs: ZipRecord[] = [
      { name: 'archive/data.pkl', data: pkl },
      { name: 'archive/data/0', data: rng.bytes(rng.pick([0, 4, 8, 24])) },
    ];
    if (rng.chance(0.5)) recs.push({ name: 'archive/version', data: latin1('3\n') });
    return writeZip(recs, { align: 64 });
  },
  mutate(input, rng, other) {
    const records = rng.chance(0.8) ? zipRecords(input) : null;
    if (records && records.length) {
      const out = mutateArchive(records, rng);
      return rng.chance(0.1) ? mutateBytes(out, rng, other) : out; // now and then, the zip layer itself
    }
    // legacy files (pickles in a row, then the storages) and broken archives: bytes
    if (input[0] === 0x80 && rng.chance(0.5)) return mutatePickle(input, rng);
    return mutateBytes(input, rng, other);
  },
  run(input) {
    const sd = torch.loadStateDict(input, 'fuzz.pt');
    try {
      for (const [k, t] of sd) {
        const n = t.shape.reduce((a, b) => a * b, 1);
        invariant(t.dataSync().length === n, `'${k}': ${t.dataSync().length} elements for shape [${t.shape}]`);
      }
      // what we read we can write, and read back the same
      const again = torch.loadStateDict(torch.saveStateDict(sd), 'again.pt');
      try {
        invariant(
          [...again.keys()].join() === [...sd.keys()].join(),
          `saved and read back, the keys changed: ${[...again.keys()]}`,
        );
      } finally {
        again.forEach((t) => t.dispose());
      }
    } finally {
      sd.forEach((t) => t.dispose());
    }
  },
  expected: (e) => e instanceof PtFormatError && !unclear(e),
  timeoutMs: 2000,
};
