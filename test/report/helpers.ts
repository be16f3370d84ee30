// Small synthetic run folders and test sets for the report tests: plausible numbers, written with the
// trainer's own writers so the files have exactly the real format.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLASS_NAMES, mulberry32, type Split } from '../../src/data/index.js';
import { makeConfig, type Arch, type Framework } from '../../src/runs/config.js';
import { evaluateProbs } from '../../src/runs/metrics.js';
import {
  writeHistory,
  writeRunInfo,
  writeTestResults,
  type EpochRecord,
  type MetricsJson,
  type RunInfo,
} from '../../src/runs/files.js';

export function tempDir(prefix = 'fmnist-report-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Labels 0..9 cycling, and 28x28 images whose shape depends on the class (a bar whose width grows with it). */
export function syntheticSplit(count: number, seed = 1): Split {
  const rand = mulberry32(seed);
  const labels = Uint8Array.from({ length: count }, (_, i) => (i * 7 + Math.floor(i / 10)) % 10);
  const images = new Float32Array(count * 784);
  labels.forEach((c, i) => {
    const half = 2 + c;
    for (let y = 4; y < 24; y++)
      for (let x = 14 - half; x < 14 + half; x++) images[i * 784 + y * 28 + x] = 0.5 + 0.5 * rand();
  });
  return { images, labels, count };
}

/** Mistakes go to the class Fashion-MNIST models really confuse it with. */
const CONFUSED_WITH = [6, 3, 4, 0, 2, 7, 0, 9, 6, 7];

/** Probabilities that are right with probability `accuracy`, deterministic for a seed. */
export function syntheticProbs(labels: Uint8Array, accuracy: number, seed = 7): Float32Array {
  const rand = mulberry32(seed);
  const probs = new Float32Array(labels.length * 10);
  labels.forEach((y, i) => {
    const pred = rand() < accuracy ? y : CONFUSED_WITH[y];
    const conf = 0.35 + 0.64 * rand();
    for (let c = 0; c < 10; c++) probs[i * 10 + c] = (1 - conf) / 9;
    probs[i * 10 + pred] = conf;
  });
  return probs;
}

export interface SyntheticRunOptions {
  framework: Framework;
  model: Arch;
  test: Split;
  accuracy?: number;
  epochs?: number;
  seed?: number;
  params?: number;
}

/** Writes run.json, history.json, metrics.json and test-probs.bin to `<root>/<framework>-<model>`; returns the folder. */
export function writeSyntheticRun(root: string, o: SyntheticRunOptions): string {
  const dir = join(root, `${o.framework}-${o.model}`);
  const accuracy = o.accuracy ?? (o.model === 'cnn' ? 0.9 : 0.85);
  const epochs = o.epochs ?? 5;
  const cfg = makeConfig({ framework: o.framework, model: o.model, epochs, threads: 1, out: dir });
  const info: RunInfo = {
    framework: o.framework,
    model: o.model,
    params: o.params ?? (o.model === 'cnn' ? 225034 : 109386),
    config: cfg,
    engine: o.framework === 'pytorch' ? { libtorch: '1.13.0', threads: '1' } : { tfjs: '4.22.0', backend: 'libtorch' },
    definition:
      o.model === 'cnn' ? 'Conv2d(1,32,3) ... Linear(128,10)' : 'Flatten, Linear(784,128), ReLU, Linear(128,10)',
    modelFile: o.framework === 'pytorch' ? 'model.pt' : 'model.json',
    data: {
      dir: '/synthetic',
      origin: 'flag',
      verified: false,
      trainCount: 540,
      valCount: 60,
      testCount: o.test.count,
    },
    createdAt: '2024-01-01T00:00:00.000Z',
    host: { cpus: 2, node: process.version },
  };
  const history: EpochRecord[] = Array.from({ length: epochs }, (_, i) => {
    const t = (i + 1) / epochs;
    return {
      epoch: i + 1,
      loss: 0.9 - 0.6 * t,
      accuracy: accuracy - 0.15 + 0.17 * t,
      valLoss: 0.8 - 0.45 * t + 0.05 * t * t,
      valAccuracy: accuracy - 0.12 + 0.12 * t,
      seconds: o.model === 'cnn' ? 12.5 : 3.2,
      rssMB: 300,
    };
  });
  writeRunInfo(dir, info);
  writeHistory(dir, history);
  const probs = syntheticProbs(o.test.labels, accuracy, o.seed ?? (o.model === 'cnn' ? 11 : 5));
  writeTestResults(dir, info, history, epochs - 1, probs, o.test.labels, CLASS_NAMES);
  return dir;
}

/**
 * A folder as `fmnist ensemble` writes it (the contract, written by hand here): run.json with framework and
 * model "ensemble", the members and `tta`; metrics.json with the test metrics but no training fields (trainSeconds
 * 0); test-probs.bin. `members` are run folders; a member folder that does not exist is listed all the same.
 */
export function writeEnsembleRun(
  root: string,
  name: string,
  members: { dir: string; framework: string; model: string; params: number }[],
  o: { test: Split; accuracy: number; tta?: boolean; seed?: number; trainSeconds?: number },
): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  const params = members.reduce((s, m) => s + m.params, 0);
  const probs = syntheticProbs(o.test.labels, o.accuracy, o.seed ?? 23);
  const ev = evaluateProbs(probs, o.test.labels, CLASS_NAMES);
  const run = { framework: 'ensemble', model: 'ensemble', members, tta: o.tta ?? false, params };
  writeFileSync(join(dir, 'run.json'), JSON.stringify(run, null, 2));
  const metrics = {
    framework: 'ensemble',
    model: 'ensemble',
    params,
    // The accuracy asked for exactly (40 synthetic images only come near it), so tests can state the numbers.
    testAccuracy: o.accuracy,
    testLoss: ev.loss,
    trainSeconds: o.trainSeconds ?? 0,
    perClass: ev.perClass,
    macro: ev.macro,
    weighted: ev.weighted,
    confusionMatrix: ev.confusionMatrix,
    ece: ev.ece,
    reliability: ev.reliability,
  };
  writeFileSync(join(dir, 'metrics.json'), JSON.stringify(metrics, null, 2));
  writeFileSync(join(dir, 'test-probs.bin'), new Uint8Array(probs.buffer, probs.byteOffset, probs.byteLength));
  return dir;
}

/** Overwrites fields of a run's metrics.json (to state exact numbers in a test). */
export function patchMetrics(dir: string, patch: Partial<MetricsJson>): void {
  const p = join(dir, 'metrics.json');
  writeFileSync(p, JSON.stringify({ ...JSON.parse(readFileSync(p, 'utf8')), ...patch }, null, 2));
}

/** metrics-tta.json beside a run's metrics.json (as `fmnist evaluate --tta` writes it): the run's own, better by `gain`. */
export function writeTtaMetrics(dir: string, gain: number, ece?: number): MetricsJson {
  const m = JSON.parse(readFileSync(join(dir, 'metrics.json'), 'utf8')) as MetricsJson;
  const tta = { ...m, testAccuracy: m.testAccuracy + gain, ece: ece ?? m.ece };
  writeFileSync(join(dir, 'metrics-tta.json'), JSON.stringify(tta, null, 2));
  return tta;
}

/**
 * Throws unless `xml` is well-formed enough to parse: one root element, every tag closed in order,
 * quoted attributes, no stray '<' or '&' in text.
 */
export function assertWellFormedXml(xml: string): { root: string; elements: number } {
  const stack: string[] = [];
  let root = '';
  let elements = 0;
  let i = xml.indexOf('<');
  if (xml.slice(0, i).trim()) throw new Error('text before the root element');
  while (i < xml.length) {
    if (xml[i] !== '<') {
      const next = xml.indexOf('<', i);
      const text = xml.slice(i, next < 0 ? xml.length : next);
      if (/&(?!(?:amp|lt|gt|quot|apos|#\d+|#x[\da-fA-F]+);)/.test(text)) throw new Error(`bare '&' in text near ${i}`);
      if (stack.length === 0 && text.trim()) throw new Error(`text outside the root element near ${i}`);
      i = next < 0 ? xml.length : next;
      continue;
    }
    if (xml.startsWith('<!--', i)) {
      const end = xml.indexOf('-->', i);
      if (end < 0) throw new Error('unclosed comment');
      i = end + 3;
      continue;
    }
    if (xml.startsWith('<?', i)) {
      const end = xml.indexOf('?>', i);
      if (end < 0) throw new Error('unclosed processing instruction');
      i = end + 2;
      continue;
    }
    // A tag: scan to its '>' outside quotes.
    let j = i + 1;
    let quote = '';
    for (; j < xml.length; j++) {
      const c = xml[j];
      if (quote) {
        if (c === quote) quote = '';
        else if (c === '<') throw new Error(`'<' inside an attribute near ${j}`);
      } else if (c === '"' || c === "'") quote = c;
      else if (c === '>') break;
    }
    if (j >= xml.length) throw new Error(`unclosed tag near ${i}`);
    const tag = xml.slice(i + 1, j);
    const close = tag.startsWith('/');
    const selfClosing = tag.endsWith('/');
    const m = /^\/?([A-Za-z_][\w:.-]*)((?:\s+[A-Za-z_][\w:.-]*\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*\/?$/.exec(tag);
    if (!m) throw new Error(`malformed tag <${tag.slice(0, 60)}>`);
    const name = m[1];
    if (close) {
      const open = stack.pop();
      if (open !== name) throw new Error(`</${name}> closes <${open}>`);
    } else {
      if (stack.length === 0) {
        if (root) throw new Error('more than one root element');
        root = name;
      }
      elements++;
      if (!selfClosing) stack.push(name);
    }
    i = j + 1;
  }
  if (stack.length) throw new Error(`unclosed <${stack[stack.length - 1]}>`);
  if (!root) throw new Error('no root element');
  return { root, elements };
}
