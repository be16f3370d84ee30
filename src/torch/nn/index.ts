export { Module } from './module.js';
export * from './layers.js';
export * as functional from '../functional.js';
