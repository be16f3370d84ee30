export { Optimizer, SGD, Adam, AdamW, RAdam, type AdamOptions, type OptimizerKind } from './optimizer.js';
export { StepLR, CosineAnnealingLR, OneCycleLR } from './schedulers.js';
