// SHA256SUMS (src/runs/checksums.ts) on hand-made folders: the exact format, what is listed and what is not,
// coreutils' `sha256sum -c` accepting it, and verify/refresh on damaged, missing, extra and regenerated files.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import {
  appendFileSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  SHA256SUMS,
  readChecksums,
  refreshChecksums,
  runFiles,
  verifyChecksums,
  writeChecksums,
} from '../../src/runs/checksums.js';
import { readRun, writeRunInfo, type RunInfo } from '../../src/runs/files.js';

const hex = (b: string | Uint8Array) => createHash('sha256').update(b).digest('hex');
const haveSha256sum = spawnSync('sha256sum', ['--version']).status === 0;

/** `sha256sum -c SHA256SUMS` in `dir`: its exit status and output. */
function coreutilsCheck(dir: string) {
  const r = spawnSync('sha256sum', ['-c', '--strict', SHA256SUMS], { cwd: dir, encoding: 'utf8' });
  return { status: r.status, out: r.stdout + r.stderr };
}

/** Calls fn with stderr captured. */
function stderrOf(fn: () => void): string {
  const chunks: string[] = [];
  const write = process.stderr.write;
  process.stderr.write = ((c: string | Uint8Array) => (chunks.push(String(c)), true)) as typeof process.stderr.write;
  try {
    fn();
  } finally {
    process.stderr.write = write;
  }
  return chunks.join('');
}

describe('SHA256SUMS', () => {
  let root = '';
  let n = 0;
  // the fields readRun's run.json check requires
  const RUN = {
    framework: 'pytorch',
    model: 'dense',
    modelFile: 'model.pt',
    params: 1,
    config: {},
    data: { trainCount: 1, valCount: 0, testCount: 1 },
    host: { cpus: 1, node: 'v20' },
  };
  /** A folder with the files of a run (contents made up: only the bytes matter here). */
  const folder = () => {
    const dir = join(root, `run${n++}`);
    mkdirSync(join(dir, 'sub', 'deeper'), { recursive: true });
    writeFileSync(join(dir, 'run.json'), JSON.stringify(RUN));
    writeFileSync(join(dir, 'model.pt'), Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 7919) % 256)));
    writeFileSync(join(dir, 'metrics.json'), '{"testAccuracy": 0.5}\n');
    writeFileSync(join(dir, 'B-upper.txt'), 'sorted before lower case\n');
    writeFileSync(join(dir, 'sub', 'deeper', 'x.bin'), new Uint8Array(0));
    writeFileSync(join(dir, 'sub', 'a.json'), '[]');
    return dir;
  };
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'fmnist-sums-'));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  test('lists every regular file, sorted, as `<sha256>  <path>`, with run.json and subfolders', () => {
    const dir = folder();
    // left out: SHA256SUMS itself, dot-names (temp files and folders, the trainer's lock), checkpoint/, a symlink
    writeFileSync(join(dir, SHA256SUMS), 'old\n');
    writeFileSync(join(dir, '.123.456.tmp-abc'), 'half a file');
    mkdirSync(join(dir, '.out.tmp-9-9-x'));
    writeFileSync(join(dir, '.out.tmp-9-9-x', 'model.pt'), 'x');
    symlinkSync(join(dir, 'model.pt'), join(dir, 'link.pt'));
    writeFileSync(join(dir, '.training'), '123\n');
    mkdirSync(join(dir, 'checkpoint', '0001'), { recursive: true });
    writeFileSync(join(dir, 'checkpoint', 'latest'), '0001\n'); // it has SHA256SUMS of its own
    writeChecksums(dir);
    const text = readFileSync(join(dir, SHA256SUMS), 'utf8');
    const files = ['B-upper.txt', 'metrics.json', 'model.pt', 'run.json', 'sub/a.json', 'sub/deeper/x.bin'];
    const expected = files.map((f) => `${hex(readFileSync(join(dir, f)))}  ${f}\n`).join('');
    assert.equal(text, expected);
    assert.deepEqual(runFiles(dir), files);
    assert.equal(hex(''), readChecksums(dir)!.get('sub/deeper/x.bin'));
  });

  test('coreutils `sha256sum -c` accepts it, and rejects it once a file changes', { skip: !haveSha256sum }, () => {
    const dir = folder();
    writeChecksums(dir);
    const ok = coreutilsCheck(dir);
    assert.equal(ok.status, 0, ok.out);
    assert.match(ok.out, /^sub\/deeper\/x\.bin: OK$/m);
    assert.equal(ok.out.trim().split('\n').length, 6);
    appendFileSync(join(dir, 'sub', 'a.json'), ' ');
    const bad = coreutilsCheck(dir);
    assert.equal(bad.status, 1);
    assert.match(bad.out, /^sub\/a\.json: FAILED$/m);
  });

  test('verify: a damaged or missing file is an error naming it; a file not listed is ignored', () => {
    const dir = folder();
    writeChecksums(dir);
    assert.equal(verifyChecksums(dir), true);
    writeFileSync(join(dir, 'notes.txt'), 'a file the user added');
    writeFileSync(join(dir, 'sub', 'report.png'), 'not listed either');
    assert.equal(verifyChecksums(dir), true);

    const flipped = join(root, `flipped${n++}`);
    cpSync(dir, flipped, { recursive: true });
    const pt = readFileSync(join(flipped, 'model.pt'));
    pt[2500] ^= 0x01;
    writeFileSync(join(flipped, 'model.pt'), pt);
    assert.throws(
      () => verifyChecksums(flipped),
      new Error(`${flipped}/model.pt: damaged (its SHA-256 does not match SHA256SUMS)`),
    );
    // readRun is where every loader checks it
    assert.throws(() => readRun(flipped), /model\.pt: damaged/);

    const missing = join(root, `missing${n++}`);
    cpSync(dir, missing, { recursive: true });
    rmSync(join(missing, 'sub', 'deeper', 'x.bin'));
    assert.throws(
      () => verifyChecksums(missing),
      new Error(`${missing}/sub/deeper/x.bin: missing (listed in SHA256SUMS)`),
    );
    rmSync(join(missing, 'run.json'));
    assert.throws(() => readRun(missing), /run\.json: missing \(listed in SHA256SUMS\)/);
  });

  test('verify sees a file rewritten in place after a successful check (same size, same mtime)', () => {
    const dir = folder();
    const file = join(dir, 'metrics.json');
    utimesSync(file, 1e9, 1e9); // whole seconds: set back exactly below
    writeChecksums(dir);
    assert.equal(verifyChecksums(dir), true);
    const before = statSync(file, { bigint: true });
    writeFileSync(file, '{"testAccuracy": 0.9}\n');
    utimesSync(file, 1e9, 1e9);
    const now = statSync(file, { bigint: true });
    assert.deepEqual([now.size, now.mtimeNs, now.ino], [before.size, before.mtimeNs, before.ino]);
    assert.throws(() => verifyChecksums(dir), /metrics\.json: damaged/);
  });

  test('model.onnx and metrics-tta.json may be deleted (commands make them again), not changed', () => {
    const dir = folder();
    writeFileSync(join(dir, 'model.onnx'), 'onnx bytes');
    writeFileSync(join(dir, 'metrics-tta.json'), '{}');
    writeChecksums(dir);
    rmSync(join(dir, 'model.onnx'));
    rmSync(join(dir, 'metrics-tta.json'));
    assert.equal(verifyChecksums(dir), true);
    writeFileSync(join(dir, 'model.onnx'), 'other bytes');
    assert.throws(() => verifyChecksums(dir), /model\.onnx: damaged/);
  });

  test('a folder without SHA256SUMS loads, with one notice per folder per process', () => {
    const dir = folder();
    const first = stderrOf(() => assert.equal(verifyChecksums(dir), false));
    assert.equal(
      first,
      `fmnist: note: ${dir} has no SHA256SUMS (written before fmnist checked run folders, or unfinished): its files are not verified\n`,
    );
    assert.equal(
      stderrOf(() => readRun(dir)),
      '',
    );
    const other = folder();
    assert.match(
      stderrOf(() => readRun(other)),
      /^fmnist: note: .*run\d+ has no SHA256SUMS/,
    );
    // a folder that is not a run folder at all says that, not that it has no SHA256SUMS
    const empty = join(root, `empty${n++}`);
    mkdirSync(empty);
    let err = '';
    assert.equal(
      stderrOf(() => {
        try {
          readRun(empty);
        } catch (e) {
          err = (e as Error).message;
        }
      }),
      '',
    );
    assert.match(err, /run\.json: run\.json .*not found/);
  });

  test('a malformed SHA256SUMS, or one naming a path outside the folder, is an error naming it', () => {
    for (const [text, re] of [
      ['not a checksum line\n', /SHA256SUMS: line 1 is not '<SHA-256> {2}<file>'/],
      [`${hex('x')}  run.json\n${hex('x').slice(1)}  model.pt\n`, /SHA256SUMS: line 2 is not/],
      [
        `${hex('x')}  ../elsewhere/model.pt\n`,
        /SHA256SUMS: line 1 names '\.\.\/elsewhere\/model\.pt', which is not a file inside/,
      ],
      [`${hex('x')}  /etc/passwd\n`, /SHA256SUMS: line 1 names '\/etc\/passwd'/],
    ] as const) {
      const dir = folder();
      writeFileSync(join(dir, SHA256SUMS), text);
      assert.throws(() => verifyChecksums(dir), re);
    }
    // sha256sum's binary-mode marker and upper-case hex are read too
    const dir = folder();
    writeFileSync(join(dir, SHA256SUMS), `${hex(JSON.stringify(RUN)).toUpperCase()} *run.json\n`);
    assert.equal(verifyChecksums(dir), true);
  });

  test('refresh: adds the new file after checking the others; an unchecked folder stays unchecked', () => {
    const dir = folder();
    writeChecksums(dir);
    writeFileSync(join(dir, 'notes.txt'), 'the user’s');
    writeFileSync(join(dir, 'metrics-tta.json'), '{"testAccuracy": 0.6}');
    assert.equal(refreshChecksums(dir, 'metrics-tta.json'), true);
    const sums = readChecksums(dir)!;
    assert.equal(sums.get('metrics-tta.json'), hex('{"testAccuracy": 0.6}'));
    assert.equal(sums.has('notes.txt'), false, 'a file the user added stays unlisted');
    assert.equal(verifyChecksums(dir), true);
    // written again: its new digest replaces the old
    writeFileSync(join(dir, 'metrics-tta.json'), '{"testAccuracy": 0.7}');
    assert.throws(() => verifyChecksums(dir), /metrics-tta\.json: damaged/);
    refreshChecksums(dir, 'metrics-tta.json');
    assert.equal(verifyChecksums(dir), true);
    // a damaged file is not blessed by a refresh
    writeFileSync(join(dir, 'model.pt'), 'garbage');
    writeFileSync(join(dir, 'model.onnx'), 'onnx');
    assert.throws(() => refreshChecksums(dir, 'model.onnx'), /model\.pt: damaged/);
    assert.equal(readChecksums(dir)!.has('model.onnx'), false);

    const old = folder();
    writeFileSync(join(old, 'model.onnx'), 'onnx');
    assert.equal(refreshChecksums(old, 'model.onnx'), false);
    assert.equal(readChecksums(old), null);
  });

  test('writeRunInfo (a run folder being rewritten) drops the old SHA256SUMS', () => {
    const dir = folder();
    writeChecksums(dir);
    writeRunInfo(dir, { ...RUN, params: 1 } as unknown as RunInfo);
    assert.equal(readChecksums(dir), null);
    stderrOf(() => assert.equal(verifyChecksums(dir), false));
  });
});
