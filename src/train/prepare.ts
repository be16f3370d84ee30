// Loads the data and makes the stratified train/validation split a training run uses.
import { loadFashionMnist, stratifiedSplit, subset, type Split } from '../data/index.js';
import type { TrainConfig } from '../runs/config.js';

export interface PreparedData {
  train: Split;
  val: Split | null;
  test: Split;
  summary: { dir: string; origin: string; verified: boolean; trainCount: number; valCount: number; testCount: number };
}

const head = (s: Split, n: number): Split =>
  n > 0 && n < s.count ? { images: s.images.subarray(0, n * 784), labels: s.labels.subarray(0, n), count: n } : s;

export async function prepareData(cfg: TrainConfig): Promise<PreparedData> {
  const fm = await loadFashionMnist({ dataDir: cfg.dataDir || undefined });
  const all = head(fm.train, cfg.limit);
  const test = head(fm.test, cfg.testLimit);
  let train = all;
  let val: Split | null = null;
  if (cfg.valSplit > 0) {
    const s = stratifiedSplit(all.labels, cfg.valSplit, cfg.seed);
    train = subset(all, s.train);
    val = subset(all, s.val);
  }
  return {
    train,
    val,
    test,
    summary: {
      dir: fm.source.dir,
      origin: fm.source.origin,
      verified: fm.verified,
      trainCount: train.count,
      valCount: val?.count ?? 0,
      testCount: test.count,
    },
  };
}
