// How people name a run: "PyTorch CNN". From the engines' names and the registry's labels, so a new architecture
// is named everywhere (report, server, page) by its own spec.
import { FRAMEWORK_NAMES, type Framework } from '../engines/index.js';
import { findModel } from '../models/index.js';

export const frameworkName = (f: string) => FRAMEWORK_NAMES[f as Framework] ?? f;
export const modelName = (m: string) => findModel(m)?.label ?? m;
export const runLabel = (framework: string, model: string) => `${frameworkName(framework)} ${modelName(model)}`;
/** The registry's one-line description of a model, or null for one it does not know. */
export const modelDescription = (m: string) => findModel(m)?.description ?? null;
