// `fmnist models`: the architectures in the registry, with their parameter counts in each framework.
import { Command } from 'commander';
import { FRAMEWORKS, FRAMEWORK_NAMES, loadEngine } from '../../engines/index.js';
import { MODELS } from '../../models/index.js';
import { defaultConfig, engineOptions } from '../../runs/config.js';
import { formatTable } from '../table.js';

/** Builds each model in each framework to count its trainable parameters. */
export async function modelTable(): Promise<{ id: string; description: string; params: Record<string, number> }[]> {
  const rows = [];
  for (const spec of MODELS) {
    const params: Record<string, number> = {};
    for (const f of FRAMEWORKS) {
      const engine = await loadEngine(f);
      const m = await engine.seeded(0, () =>
        engine.build(spec, { ...engineOptions(defaultConfig(f, spec.id)), threads: 1 }),
      );
      params[f] = m.params;
      m.dispose();
    }
    rows.push({ id: spec.id, description: spec.description, params });
  }
  return rows;
}

export function registerModels(program: Command): void {
  program
    .command('models')
    .description('list the architectures: id, trainable parameters in each framework, description')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const rows = await modelTable();
      if (o.json) return console.log(JSON.stringify(rows, null, 2));
      console.log(
        formatTable(
          ['id', ...FRAMEWORKS.map((f) => `${FRAMEWORK_NAMES[f]} params`), 'description'],
          rows.map((r) => [r.id, ...FRAMEWORKS.map((f) => r.params[f].toLocaleString('en-US')), r.description]),
          [0, FRAMEWORKS.length + 1],
        ),
      );
    });
}
