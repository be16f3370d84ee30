export { Optimizer, SGD, Adam, AdamW, RAdam, type AdamOptions } from './optimizer.js';
export { StepLR, CosineAnnealingLR, OneCycleLR } from './schedulers.js';
