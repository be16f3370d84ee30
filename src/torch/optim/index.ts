export { Optimizer, SGD, Adam, AdamW, type AdamOptions } from './optimizer.js';
export { StepLR, CosineAnnealingLR, OneCycleLR } from './schedulers.js';
