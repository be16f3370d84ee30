// The corrupt-file matrix: one tiny real run per framework (dense, 1 epoch on 512 images, 200 test images), and
// for every file `fmnist evaluate` reads (model.pt; model.json and weights.bin; run.json, history.json,
// metrics.json) damaged copies: truncated, bit-flipped at several positions, wrong first bytes (the zip magic, the
// JSON's opening brace), wrong shapes. Each copy is evaluated through the CLI twice:
// - with its SHA256SUMS: exit 1 and exactly one line, "<copy>/<file>: damaged (its SHA-256 does not match
//   SHA256SUMS)";
// - with SHA256SUMS removed (a folder from before it): the notice line, then one error line from the parser that
//   names a file of the copy. A bit flip must give that error or leave the result exactly as it was. Two things
//   cannot be caught without the checksums, and are not asked for: a flip in weights.bin's raw float32 bytes (any
//   bytes are some floats: the model changes silently) and a flip in a number of a JSON file (metrics.json's
//   testAccuracy as served). model.pt is safer: its zip entries carry CRC-32s, which the reader checks.
// Then: every command that writes a run folder leaves a SHA256SUMS that coreutils' `sha256sum -c` accepts, and
// every loader (predict, serve, report, ensemble, convert, export) refuses a damaged folder.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { SYSTEM_DATA_DIR, loadFashionMnist } from '../../src/data/index.js';
import { SHA256SUMS, readChecksums, runFiles } from '../../src/runs/checksums.js';
import { loadRun } from '../../src/report/runs.js';
import { buildServer } from '../../src/serve/server.js';
import * as torch from '../../src/torch/index.js';
import { cli } from '../helpers/cli.js';

const skip = existsSync(join(SYSTEM_DATA_DIR, 't10k-images-idx3-ubyte.gz')) ? false : `no data in ${SYSTEM_DATA_DIR}`;
const N = 200;
const DATA = ['--data-dir', SYSTEM_DATA_DIR];
const FRAMEWORKS = ['pytorch', 'keras'] as const;
type Fw = (typeof FRAMEWORKS)[number];

/** A damaged version of a file's bytes. */
type Damage = (bytes: Buffer) => Buffer | string;
/** What a damage is: 'flip' may go unnoticed without checksums, but must then change nothing. */
interface Case {
  name: string;
  kind: 'truncated' | 'magic' | 'shape' | 'flip';
  damage: Damage;
}

const truncated: Case[] = [
  { name: 'cut to half', kind: 'truncated', damage: (b) => b.subarray(0, b.length >> 1) },
  // 2 bytes: JSON files end in "}\n" (or "]}"), so 1 byte could leave valid JSON
  { name: 'last 2 bytes cut', kind: 'truncated', damage: (b) => b.subarray(0, b.length - 2) },
];
const FLIPS = [0.002, 0.2, 0.45, 0.7, 0.997];
const flips: Case[] = FLIPS.map((at) => ({
  name: `bit flipped at ${at}`,
  kind: 'flip',
  damage: (b) => {
    const c = Buffer.from(b);
    c[Math.floor(at * (c.length - 1))] ^= 0x10;
    return c;
  },
}));
const magic: Case = {
  name: 'wrong first bytes',
  kind: 'magic',
  damage: (b) => Buffer.concat([Buffer.from('XXXX'), b.subarray(4)]),
};
const json = (name: string, edit: (j: Record<string, unknown>) => unknown): Case => ({
  name,
  kind: 'shape',
  damage: (b) => {
    const j = JSON.parse(b.toString('utf8'));
    return JSON.stringify(edit(j) ?? j);
  },
});
interface Manifest {
  weightsManifest: { weights: { shape: number[] }[] }[];
  modelTopology: { config: { layers: { class_name: string; config: { units?: number } }[] } };
}
const manifest = (j: unknown) => j as Manifest;

/** model.pt with its state_dict changed by `edit` (a tensor of another shape, a key gone). */
const stateDict = (name: string, edit: (sd: Map<string, torch.Tensor>) => void): Case => ({
  name,
  kind: 'shape',
  damage: (b) => {
    const sd = torch.loadStateDict(b);
    try {
      edit(sd);
      return Buffer.from(torch.saveStateDict(sd));
    } finally {
      sd.forEach((t) => t.dispose());
    }
  },
});

const COMMON: Record<string, Case[]> = {
  'run.json': [
    json('not an object', () => [1, 2]),
    json('no modelFile', (j) => {
      delete j.modelFile;
    }),
  ],
  'history.json': [json('epochs not a list', () => ({ epochs: 3 }))],
  'metrics.json': [
    json('testAccuracy not a number', (j) => ({ ...j, testAccuracy: 'high' })),
    json('a list', () => []),
  ],
};
const FILES: Record<Fw, Record<string, Case[]>> = {
  pytorch: {
    'model.pt': [
      stateDict('a tensor of another shape', (sd) => {
        const [key, t] = [...sd][0];
        sd.set(key, torch.zeros([t.shape[0], t.shape[1] - 1]));
        t.dispose();
      }),
      stateDict('a key missing', (sd) => {
        const [key, t] = [...sd][0];
        sd.delete(key);
        t.dispose();
      }),
    ],
    ...COMMON,
  },
  keras: {
    'model.json': [
      json('a weight of another shape in the manifest', (j) => {
        manifest(j).weightsManifest[0].weights[0].shape = [784, 64];
      }),
      json('a layer of another size in the topology', (j) => {
        manifest(j).modelTopology.config.layers.find((l) => l.class_name === 'Dense')!.config.units = 64;
      }),
    ],
    'weights.bin': [
      { name: '400 bytes too long', kind: 'shape', damage: (b) => Buffer.concat([b, Buffer.alloc(400)]) },
    ],
    ...COMMON,
  },
};

/** Every case for a file: the shapes above, truncation and bit flips, and wrong first bytes where there are any. */
function casesFor(file: string, shapes: Case[]): Case[] {
  // weights.bin is raw float32s: no first bytes to get wrong
  return [...truncated, ...(file === 'weights.bin' ? [] : [magic]), ...shapes, ...flips];
}

const NOTE = /^fmnist: note: .* has no SHA256SUMS \(written before fmnist checked run folders, or unfinished\)/;
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const haveSha256sum = spawnSync('sha256sum', ['--version']).status === 0;

describe('damaged run folders', { skip }, () => {
  let tmp = '';
  const runs = {} as Record<Fw, string>;
  /** The intact runs' `evaluate --json`: accuracy and loss on the N test images. */
  const intact = {} as Record<Fw, { accuracy: number; loss: number }>;
  let copies = 0;
  const evaluate = (dir: string) => cli(['evaluate', dir, '--json', '--test-limit', String(N), ...DATA]);
  /** A copy of a run folder, as a user's `cp -r` makes it. */
  const copy = (src: string, name: string) => {
    const dir = join(tmp, `${copies++}-${name.replace(/[^a-z0-9]+/gi, '-')}`);
    cpSync(src, dir, { recursive: true });
    return dir;
  };

  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'fmnist-corrupt-'));
    for (const fw of FRAMEWORKS) {
      runs[fw] = join(tmp, `${fw}-dense`);
      const r = await cli([
        ...['train', '--framework', fw, '--model', 'dense', '--epochs', '1', '--limit', '512'],
        ...['--test-limit', String(N), '--val-split', '0', '--seed', '1', '--threads', '2', '--out', runs[fw]],
        ...DATA,
      ]);
      assert.equal(r.exitCode, 0, r.stderr);
      const ev = await evaluate(runs[fw]);
      assert.equal(ev.exitCode, 0, ev.stderr);
      assert.equal(ev.stderr, '', 'a run folder with its SHA256SUMS loads without a notice');
      const { accuracy, loss } = JSON.parse(ev.stdout);
      intact[fw] = { accuracy, loss };
    }
  });
  after(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  for (const fw of FRAMEWORKS)
    test(
      `${fw}: its SHA256SUMS lists every file, and coreutils' sha256sum -c accepts it`,
      { skip: !haveSha256sum },
      () => {
        const dir = runs[fw];
        const listed = [...readChecksums(dir)!.keys()];
        assert.deepEqual(listed, runFiles(dir));
        const expected =
          fw === 'pytorch'
            ? ['history.json', 'metrics.json', 'model.pt', 'model.py', 'run.json', 'test-probs.bin']
            : ['history.json', 'metrics.json', 'model.json', 'run.json', 'test-probs.bin', 'weights.bin'];
        assert.deepEqual(listed, expected);
        const r = spawnSync('sha256sum', ['-c', '--strict', SHA256SUMS], { cwd: dir, encoding: 'utf8' });
        assert.equal(r.status, 0, r.stdout + r.stderr);
        assert.equal(r.stdout, expected.map((f) => `${f}: OK\n`).join(''));
      },
    );

  for (const fw of FRAMEWORKS)
    for (const [file, shapes] of Object.entries(FILES[fw]))
      test(`${fw} ${file}: truncated, wrong first bytes, wrong shapes, bit flips`, async () => {
        for (const c of casesFor(file, shapes)) {
          const what = `${fw} ${file} ${c.name}`;
          const dir = copy(runs[fw], what);
          const damaged = c.damage(readFileSync(join(dir, file)));
          assert.notDeepEqual(
            Buffer.from(damaged),
            readFileSync(join(dir, file)),
            `${what}: the damage changes the file`,
          );
          writeFileSync(join(dir, file), damaged);

          const checked = await evaluate(dir);
          assert.equal(checked.exitCode, 1, `${what}: ${checked.stdout}`);
          assert.equal(
            checked.stderr,
            `fmnist: error: ${dir}/${file}: damaged (its SHA-256 does not match SHA256SUMS)\n`,
            what,
          );

          // without checksums, a flip in raw float32 bytes is some other floats: not asked for (see the top)
          if (file === 'weights.bin' && c.kind === 'flip') continue;
          rmSync(join(dir, SHA256SUMS));
          const r = await evaluate(dir);
          const lines = r.stderr.trimEnd().split('\n');
          assert.match(lines[0], NOTE, `${what}: ${r.stderr}`);
          if (r.exitCode === 0) {
            // only a flip may go unnoticed, and then it must change nothing the command computes
            assert.equal(c.kind, 'flip', `${what}: loaded silently: ${r.stdout}`);
            assert.equal(lines.length, 1, `${what}: ${r.stderr}`);
            const { accuracy, loss } = JSON.parse(r.stdout);
            assert.deepEqual({ accuracy, loss }, intact[fw], `${what}: loaded, and predicts differently`);
            continue;
          }
          assert.equal(r.exitCode, 1, what);
          assert.equal(lines.length, 2, `${what}: one error line: ${r.stderr}`);
          // one line naming a file of the copy (for a flip in run.json, perhaps the model file it now names)
          assert.match(lines[1], new RegExp(`^fmnist: error: ${escape(dir)}/\\S`), what);
          if (c.kind !== 'flip') assert.ok(lines[1].includes(file), `${what}: names ${file}: ${lines[1]}`);
          assert.doesNotMatch(lines[1], /TypeError|undefined|Cannot read/, what);
        }
      });

  test('a damaged SHA256SUMS is itself an error, one line', async () => {
    const text = readFileSync(join(runs.pytorch, SHA256SUMS), 'utf8');
    const cases: [string, string, RegExp][] = [
      ['a digit changed', text.replace(/^./, (ch) => (ch === '0' ? '1' : '0')), /history\.json: damaged/],
      ['a line broken', text.replace('  ', ' '), /SHA256SUMS: line 1 is not '<SHA-256> {2}<file>'/],
      ['cut short', text.slice(0, 100), /SHA256SUMS: line 2 is not/],
      ['a file more', `${text}${'0'.repeat(64)}  notes.txt\n`, /notes\.txt: missing \(listed in SHA256SUMS\)/],
    ];
    for (const [name, damaged, re] of cases) {
      const dir = copy(runs.pytorch, `sums ${name}`);
      writeFileSync(join(dir, SHA256SUMS), damaged);
      const r = await evaluate(dir);
      assert.equal(r.exitCode, 1, name);
      assert.match(r.stderr, /^fmnist: error: [^\n]*\n$/, `${name}: one line`);
      assert.match(r.stderr, re, name);
    }
  });

  test(
    'every writer of a run folder leaves a SHA256SUMS that sha256sum -c accepts',
    { skip: !haveSha256sum },
    async () => {
      const check = (dir: string, has: string[]) => {
        const listed = [...readChecksums(dir)!.keys()];
        assert.deepEqual(listed, runFiles(dir), dir);
        for (const f of has) assert.ok(listed.includes(f), `${dir}: lists ${f}`);
        const r = spawnSync('sha256sum', ['-c', '--strict', '--quiet', SHA256SUMS], { cwd: dir, encoding: 'utf8' });
        assert.equal(r.status, 0, `${dir}: ${r.stdout}${r.stderr}`);
      };
      const ok = async (args: string[]) => {
        const r = await cli(args);
        assert.equal(r.exitCode, 0, `${args.join(' ')}: ${r.stderr}`);
        assert.equal(r.stderr, '', `${args[0]}: no notice`);
      };
      const ens = join(tmp, 'ensemble');
      await ok(['ensemble', runs.pytorch, runs.keras, '--out', ens, ...DATA]);
      check(ens, ['run.json', 'metrics.json', 'test-probs.bin']);

      const converted = join(tmp, 'converted');
      await ok(['convert', runs.pytorch, '--to', 'keras', '--out', converted, ...DATA]);
      check(converted, ['model.json', 'weights.bin', 'history.json']);

      const imported = join(tmp, 'imported');
      await ok([
        'import',
        join(runs.pytorch, 'model.pt'),
        '--model',
        'dense',
        '--out',
        imported,
        '--test-limit',
        `${N}`,
        ...DATA,
      ]);
      check(imported, ['model.pt', 'model.py', 'run.json']);

      // commands that add a file to a finished run: the new file joins, the rest still checks
      const tta = copy(runs.pytorch, 'tta');
      await ok(['evaluate', tta, '--tta', '--test-limit', String(N), ...DATA]);
      check(tta, ['metrics-tta.json', 'model.pt']);
      const exported = copy(runs.keras, 'export');
      await ok(['export', exported]);
      check(exported, ['model.onnx', 'weights.bin']);
      // model.onnx may be deleted (export and serve --engine onnx make it again); changed, it is damage
      rmSync(join(exported, 'model.onnx'));
      assert.equal((await evaluate(exported)).exitCode, 0);
      writeFileSync(join(exported, 'model.onnx'), 'not onnx');
      const r = await evaluate(exported);
      assert.equal(
        r.stderr,
        `fmnist: error: ${exported}/model.onnx: damaged (its SHA-256 does not match SHA256SUMS)\n`,
      );
    },
  );

  test('every loader refuses a damaged folder: predict, serve, report, ensemble, convert, export', async () => {
    const dir = copy(runs.pytorch, 'loaders');
    const pt = readFileSync(join(dir, 'model.pt'));
    pt[pt.length >> 1] ^= 0x01; // in the float data: zip's CRC-32 would catch it too, checked later
    writeFileSync(join(dir, 'model.pt'), pt);
    const DAMAGED = /model\.pt: damaged \(its SHA-256 does not match SHA256SUMS\)/;

    const fm = await loadFashionMnist({ dataDir: SYSTEM_DATA_DIR, verify: false, quiet: true });
    const png = new PNG({ width: 28, height: 28, colorType: 0 });
    for (let i = 0; i < 784; i++) {
      png.data.fill(Math.round(255 * fm.test.images[i]), i * 4, i * 4 + 3);
      png.data[i * 4 + 3] = 255;
    }
    const image = join(tmp, 'image.png');
    writeFileSync(image, PNG.sync.write(png));

    for (const args of [
      ['predict', dir, image],
      ['ensemble', dir, runs.keras, '--out', join(tmp, 'no-ensemble'), ...DATA],
      ['convert', dir, '--to', 'keras', '--out', join(tmp, 'no-convert'), ...DATA],
      ['export', dir],
    ]) {
      const r = await cli(args);
      assert.equal(r.exitCode, 1, args[0]);
      assert.match(r.stderr, /^fmnist: error: [^\n]*\n$/, `${args[0]}: one line: ${r.stderr}`);
      assert.match(r.stderr, DAMAGED, args[0]);
    }
    for (const out of ['no-ensemble', 'no-convert', 'loaders/model.onnx'])
      assert.equal(existsSync(join(tmp, out)), false, `${out} not written`);
    await assert.rejects(buildServer({ models: [dir], dataDir: SYSTEM_DATA_DIR }), DAMAGED);
    const report = loadRun(dir);
    assert.equal(report.ok, false);
    assert.match((report as { reason: string }).reason, DAMAGED);
  });
});
