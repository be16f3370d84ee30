// The fmnist command line. Each command lives in its own file under commands/.
import { Command, CommanderError } from 'commander';
import { existsSync, readFileSync } from 'node:fs';
import { registerData } from './commands/data.js';
import { registerTrain } from './commands/train.js';
import { registerEvaluate } from './commands/evaluate.js';
import { registerPredict } from './commands/predict.js';
import { registerServe } from './commands/serve.js';
import { registerCompare } from './commands/compare.js';
import { registerModels } from './commands/models.js';
import { registerEnsemble } from './commands/ensemble.js';
import { registerConvert } from './commands/convert.js';
import { registerExport } from './commands/export.js';
import { registerImport } from './commands/import.js';

/** `fmnist --version`: fmnist's own version and the engines' (loading libtorch to ask it). */
export async function versions(): Promise<string> {
  const pkg = JSON.parse(readFileSync(packageJson(), 'utf8')) as { version: string };
  const { libtorchVersion } = await import('../torch/index.js');
  const { version_core } = await import('@tensorflow/tfjs-core');
  const { version_layers } = await import('@tensorflow/tfjs-layers');
  return `fmnist ${pkg.version}\nlibtorch ${libtorchVersion}\ntfjs-core ${version_core}, tfjs-layers ${version_layers}\nnode ${process.version}`;
}

/** package.json sits two folders above this file in src/ (tsx) and three in dist/src/ (built). */
function packageJson(): URL {
  for (const up of ['../../', '../../../']) {
    const u = new URL(`${up}package.json`, import.meta.url);
    if (existsSync(u)) return u;
  }
  throw new Error('fmnist: package.json not found');
}

export function buildProgram(): Command {
  const program = new Command('fmnist')
    .description('Train, compare, explain and serve Fashion-MNIST classifiers: Keras (tfjs) and PyTorch (libtorch).')
    .option('-V, --version', 'print the fmnist, libtorch and tfjs versions')
    .option('--verbose', 'print stack traces on errors')
    .showHelpAfterError('(run with --help for usage)')
    // before the commands are added, so that they inherit it: a bad option value in a subcommand then throws a
    // CommanderError (and main sets the exit code) instead of calling process.exit
    .exitOverride();
  registerData(program);
  registerTrain(program);
  registerEvaluate(program);
  registerPredict(program);
  registerServe(program);
  registerCompare(program);
  registerEnsemble(program);
  registerConvert(program);
  registerExport(program);
  registerImport(program);
  registerModels(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    if (argv[2] === '--version' || argv[2] === '-V') return void console.log(await versions());
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode;
      return;
    }
    const verbose = argv.includes('--verbose');
    const e = err as Error;
    process.stderr.write(`fmnist: error: ${e.message}\n`);
    if (verbose && e.stack) process.stderr.write(`${e.stack}\n`);
    process.exitCode = 1;
  }
}
