import { Command, Option } from 'commander';
import { mkdirSync } from 'node:fs';
import { CONFIG_FIELDS, defaultText, makeConfig, type ConfigKey, type TrainConfig } from '../../runs/config.js';
import { prepareData } from '../../train/prepare.js';
import { train, TrainingInterrupted, type TrainResult } from '../../train/loop.js';
import { resumeRun, type Checkpoint } from '../../runs/checkpoint.js';

export async function runTraining(
  cfg: TrainConfig,
  log: (s: string) => void = console.log,
  resume?: Checkpoint,
): Promise<TrainResult> {
  mkdirSync(cfg.out, { recursive: true });
  const data = await prepareData(cfg);
  return train(cfg, data, log, { resume });
}

/**
 * `fmnist train --resume DIR [flags]`: continues DIR from its last checkpoint; a run that is complete says so.
 * Returns null when there was nothing to do.
 */
export async function resumeTraining(
  dir: string,
  given: object,
  log: (s: string) => void = console.log,
): Promise<TrainResult | null> {
  const r = resumeRun(dir, given);
  const s = r.checkpoint.state;
  if (r.complete) {
    log(
      `${dir}: complete (${s.epoch} epoch${s.epoch === 1 ? '' : 's'}${s.stoppedEarly ? ', stopped early' : ''}); ` +
        `nothing to do${s.stoppedEarly ? '' : '. To train on, give a larger --epochs'}`,
    );
    return null;
  }
  return runTraining(r.cfg, log, r.checkpoint);
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
  cmd.option(
    '--resume <dir>',
    'continue the run in <dir> from its last checkpoint (in place of --out); other flags may be left out, and ' +
      'those given must match the run (--epochs, --threads, --checkpoint-every and --data-dir may change)',
  );
  cmd.addHelpText(
    'after',
    '\nA checkpoint (DIR/checkpoint/) is written after every epoch (--checkpoint-every), and when SIGINT or\n' +
      'SIGTERM stops a run after its current batch; `fmnist train --resume DIR` continues it exactly.',
  );
  cmd.action(async (o: Record<string, unknown>) => {
    const { resume, ...rest } = o;
    try {
      if (typeof resume !== 'string') await runTraining(makeConfig(rest));
      else if (rest.out !== undefined) throw new Error('--resume DIR takes the place of --out: give one of them');
      else await resumeTraining(resume, rest);
    } catch (e) {
      if (!(e instanceof TrainingInterrupted)) throw e;
      process.stderr.write(`fmnist: ${e.message}\n`);
      process.exitCode = e.exitCode;
    }
  });
}
