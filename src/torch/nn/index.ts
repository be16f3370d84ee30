export { Module } from './module.js';
export * from './layers.js';
export * as functional from '../functional.js';
export type { ChannelAffine, OnnxAttr, OnnxGraph } from './onnx.js';
