// How people name a run: "PyTorch CNN". From the engines' names and the registry's labels, so a new architecture
// is named everywhere (report, server, page) by its own spec.
import { FRAMEWORK_NAMES, type Framework } from '../engines/index.js';
import { findModel } from '../models/index.js';

export const frameworkName = (f: string) => FRAMEWORK_NAMES[f as Framework] ?? f;
export const modelName = (m: string) => findModel(m)?.label ?? m;
export const runLabel = (framework: string, model: string) => `${frameworkName(framework)} ${modelName(model)}`;
/** The registry's one-line description of a model, or null for one it does not know. */
export const modelDescription = (m: string) => findModel(m)?.description ?? null;

/** "Ensemble of 3", "Ensemble of 2 (TTA)": how an `fmnist ensemble` folder is named. */
export const ensembleLabel = (info: { members?: readonly unknown[]; tta?: boolean }) =>
  `Ensemble of ${info.members?.length ?? 0}${info.tta ? ' (TTA)' : ''}`;

/** A run folder's label from its run.json: "PyTorch CNN", or "Ensemble of 2 (TTA)" for an ensemble. */
export const runInfoLabel = (info: {
  framework: string;
  model: string;
  members?: readonly { framework: string; model: string }[];
  tta?: boolean;
}) => (info.framework === 'ensemble' ? ensembleLabel(info) : runLabel(info.framework, info.model));
