// Classification metrics on tiny cases computed by hand.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  averages,
  calibration,
  confusionMatrix,
  evaluateProbs,
  perClassMetrics,
  topConfusions,
  type ClassMetrics,
} from '../../src/runs/metrics.js';

const near = (actual: number, expected: number, what = '', eps = 1e-12) =>
  assert.ok(Math.abs(actual - expected) <= eps, `${what}: ${actual}, expected ${expected}`);
const NAMES = ['a', 'b', 'c'] as const;

describe('confusionMatrix', () => {
  test('rows are true classes, columns predictions', () => {
    assert.deepEqual(confusionMatrix([0, 0, 1, 1, 2, 2], [0, 1, 1, 1, 0, 2], 3), [
      [1, 1, 0],
      [0, 2, 0],
      [1, 0, 1],
    ]);
  });
  test('works on typed arrays, counts a class that never occurs as zeros, and handles no data', () => {
    assert.deepEqual(confusionMatrix(Uint8Array.from([1, 1]), Int32Array.from([1, 0]), 3), [
      [0, 0, 0],
      [1, 1, 0],
      [0, 0, 0],
    ]);
    assert.deepEqual(confusionMatrix([], [], 2), [
      [0, 0],
      [0, 0],
    ]);
  });
  test('different lengths are an error', () => {
    assert.throws(() => confusionMatrix([0, 1], [0], 2), /confusionMatrix: 2 labels but 1 predictions/);
  });
});

describe('perClassMetrics and averages', () => {
  // class a: support 3, all found, 4 predicted as a; class b: support 2, 1 found, 3 predicted as b;
  // class c: support 2, never predicted.
  const cm = [
    [3, 0, 0],
    [1, 1, 0],
    [0, 2, 0],
  ];

  test('precision, recall, F1 and support per class', () => {
    const per = perClassMetrics(cm, NAMES);
    assert.deepEqual(
      per.map((c) => [c.label, c.name, c.support]),
      [
        [0, 'a', 3],
        [1, 'b', 2],
        [2, 'c', 2],
      ],
    );
    near(per[0].precision, 3 / 4, 'a precision');
    near(per[0].recall, 1, 'a recall');
    near(per[0].f1, 6 / 7, 'a f1');
    near(per[1].precision, 1 / 3, 'b precision');
    near(per[1].recall, 1 / 2, 'b recall');
    near(per[1].f1, 0.4, 'b f1');
  });

  test('a class with no predictions gets precision 0 and F1 0, never NaN', () => {
    const c = perClassMetrics(cm, NAMES)[2];
    assert.deepEqual(c, { label: 2, name: 'c', precision: 0, recall: 0, f1: 0, support: 2 });
  });

  test('a class with no examples and no predictions is all zeros; missing names fall back to the index', () => {
    const per = perClassMetrics(
      [
        [2, 0],
        [0, 0],
      ],
      ['only'],
    );
    assert.deepEqual(per[1], { label: 1, name: '1', precision: 0, recall: 0, f1: 0, support: 0 });
    assert.deepEqual(per[0], { label: 0, name: 'only', precision: 1, recall: 1, f1: 1, support: 2 });
  });

  test('macro averages weigh classes equally, weighted averages by support', () => {
    const { macro, weighted } = averages(perClassMetrics(cm, NAMES));
    near(macro.precision, (3 / 4 + 1 / 3 + 0) / 3, 'macro precision');
    near(macro.recall, (1 + 1 / 2 + 0) / 3, 'macro recall');
    near(macro.f1, (6 / 7 + 0.4 + 0) / 3, 'macro f1');
    near(weighted.precision, (3 * (3 / 4) + 2 * (1 / 3)) / 7, 'weighted precision');
    near(weighted.recall, 4 / 7, 'weighted recall (= accuracy)');
    near(weighted.f1, (3 * (6 / 7) + 2 * 0.4) / 7, 'weighted f1');
  });

  test('no classes or no support give zeros, not NaN', () => {
    const zero = { precision: 0, recall: 0, f1: 0 };
    assert.deepEqual(averages([]), { macro: zero, weighted: zero });
    const empty: ClassMetrics[] = [{ label: 0, name: 'x', precision: 0, recall: 0, f1: 0, support: 0 }];
    assert.deepEqual(averages(empty), { macro: zero, weighted: zero });
  });
});

describe('calibration', () => {
  test('expected calibration error and reliability bins on a tiny case', () => {
    // 5 bins of width 0.2: 0.95 and 0.85 -> bin 4 (1 of 2 right), 0.65 and 0.62 -> bin 3 (both right), 0.2 -> bin 1 (wrong)
    const { ece, reliability } = calibration([0.95, 0.85, 0.65, 0.62, 0.2], [1, 0, true, 1, false], 5);
    near(ece, (2 / 5) * Math.abs(0.5 - 0.9) + (2 / 5) * Math.abs(1 - 0.635) + (1 / 5) * 0.2, 'ece', 1e-12);
    assert.equal(reliability.length, 5);
    assert.deepEqual(
      reliability.map((b) => b.count),
      [0, 1, 0, 2, 2],
    );
    reliability.forEach((b, i) => {
      near(b.lower, i / 5, `bin ${i} lower`);
      near(b.upper, (i + 1) / 5, `bin ${i} upper`);
    });
    assert.deepEqual([reliability[0].confidence, reliability[0].accuracy], [0, 0], 'an empty bin is zeros, not NaN');
    near(reliability[4].confidence, 0.9, 'bin 4 confidence');
    near(reliability[4].accuracy, 0.5, 'bin 4 accuracy');
    near(reliability[3].confidence, 0.635, 'bin 3 confidence');
    near(reliability[3].accuracy, 1, 'bin 3 accuracy');
  });

  test('confidence 1 falls in the last bin; perfectly calibrated and empty inputs give ECE 0', () => {
    const r = calibration([1, 1], [1, 1], 15);
    assert.equal(r.reliability[14].count, 2);
    assert.equal(r.ece, 0);
    const e = calibration([], []);
    assert.equal(e.ece, 0);
    assert.equal(e.reliability.length, 15);
  });
});

describe('evaluateProbs', () => {
  const probs = Float32Array.from([
    // label 0: predicted 0 (right)
    0.7, 0.2, 0.1,
    // label 1: predicted 1 (right)
    0.1, 0.6, 0.3,
    // label 2: predicted 0 (wrong)
    0.5, 0.4, 0.1,
    // label 1: predicted 2 (wrong)
    0.3, 0.3, 0.4,
  ]);
  const labels = [0, 1, 2, 1];

  test('accuracy, mean negative log-likelihood, predictions, confidences and the confusion matrix', () => {
    const ev = evaluateProbs(probs, labels, NAMES);
    assert.equal(ev.accuracy, 0.5);
    const f = Math.fround;
    near(ev.loss, -(Math.log(f(0.7)) + Math.log(f(0.6)) + Math.log(f(0.1)) + Math.log(f(0.3))) / 4, 'loss', 1e-12);
    assert.deepEqual(Array.from(ev.predicted), [0, 1, 0, 2]);
    assert.deepEqual(Array.from(ev.confidence), [f(0.7), f(0.6), f(0.5), f(0.4)]);
    assert.deepEqual(ev.confusionMatrix, [
      [1, 0, 0],
      [0, 1, 1],
      [1, 0, 0],
    ]);
    assert.equal(ev.perClass[2].recall, 0);
    assert.equal(ev.perClass[2].precision, 0);
    near(ev.weighted.recall, ev.accuracy, 'weighted recall equals accuracy');
    assert.ok(Number.isFinite(ev.ece));
  });

  test('ties go to the lowest class index; a zero probability for the true class gives a finite loss', () => {
    const ev = evaluateProbs(Float32Array.from([0.4, 0.4, 0.2, 0, 1, 0]), [1, 0], NAMES);
    assert.deepEqual(Array.from(ev.predicted), [0, 1]);
    near(ev.loss, (-Math.log(Math.fround(0.4)) - Math.log(1e-12)) / 2, 'loss', 1e-9);
  });

  test('a probability array of the wrong size is an error', () => {
    assert.throws(
      () => evaluateProbs(new Float32Array(11), labels, NAMES),
      /evaluateProbs: expected 4×3 probabilities/,
    );
  });
});

describe('topConfusions', () => {
  const cm = [
    [5, 2, 0],
    [3, 4, 1],
    [0, 3, 6],
  ];
  test('off-diagonal pairs, largest first, with the rate within the true class; zeros left out', () => {
    const top = topConfusions(cm, NAMES, 10);
    assert.deepEqual(
      top.map((t) => [t.truth, t.predicted, t.count]),
      [
        ['b', 'a', 3],
        ['c', 'b', 3],
        ['a', 'b', 2],
        ['b', 'c', 1],
      ],
    );
    near(top[0].rate, 3 / 8, 'b->a rate');
    near(top[1].rate, 3 / 9, 'c->b rate');
    near(top[2].rate, 2 / 7, 'a->b rate');
  });
  test('k limits the list (default 5); a perfect matrix has none', () => {
    assert.equal(topConfusions(cm, NAMES, 2).length, 2);
    assert.equal(topConfusions(cm, NAMES).length, 4);
    assert.deepEqual(
      topConfusions(
        [
          [3, 0],
          [0, 3],
        ],
        ['x', 'y'],
      ),
      [],
    );
  });
});
