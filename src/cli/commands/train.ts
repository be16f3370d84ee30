import { Command, Option } from 'commander';
import { mkdirSync } from 'node:fs';
import { CONFIG_FIELDS, defaultText, makeConfig, type ConfigKey, type TrainConfig } from '../../runs/config.js';
import { prepareData } from '../../train/prepare.js';
import { train, type TrainResult } from '../../train/loop.js';

export async function runTraining(cfg: TrainConfig, log: (s: string) => void = console.log): Promise<TrainResult> {
  mkdirSync(cfg.out, { recursive: true });
  const data = await prepareData(cfg);
  return train(cfg, data, log);
}

/** A config key's flag: batchSize -> --batch-size. */
export const flagName = (k: string) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
const number = (integer: boolean) => (v: string) => {
  const n = Number(v);
  if (integer ? !Number.isInteger(n) : !Number.isFinite(n))
    throw new Error(`expected ${integer ? 'an integer' : 'a number'}, got '${v}'`);
  return n;
};

/** The config's fields as flags: names, help and choices come from the schema in src/runs/config.ts. */
export function configOptions(keys: readonly ConfigKey[]): Option[] {
  return keys.flatMap((k) => {
    const f: { help: string; arg?: string; schema: unknown; must: string } = CONFIG_FIELDS[k];
    const s = f.schema as { options?: string[]; def?: { type?: string }; format?: string | null };
    // a boolean gets --x and --no-x, so that either can override a recipe
    if (s.def?.type === 'boolean')
      return [
        new Option(flagName(k), `${f.help} (default: ${defaultText(k)})`),
        new Option(flagName(`no-${k}`)).hideHelp(),
      ];
    const o = new Option(`${flagName(k)} ${f.arg}`, `${f.help} (default: ${defaultText(k)})`);
    if (s.options) return [o.choices(s.options)];
    if (s.def?.type === 'number') return [o.argParser(number(f.must.startsWith('an integer')))];
    return [o];
  });
}

export function registerTrain(program: Command): void {
  const cmd = program
    .command('train')
    .description('train one model and write its run folder (model, run.json, history.json, metrics.json)');
  for (const o of configOptions(Object.keys(CONFIG_FIELDS) as ConfigKey[])) cmd.addOption(o);
  cmd.action(async (o: Record<string, unknown>) => {
    await runTraining(makeConfig(o));
  });
}
