// The fmnist command line. Each command lives in its own file under commands/.
import { Command, CommanderError } from 'commander';
import { registerData } from './commands/data.js';
import { registerTrain } from './commands/train.js';
import { registerEvaluate } from './commands/evaluate.js';
import { registerPredict } from './commands/predict.js';
import { registerServe } from './commands/serve.js';
import { registerCompare } from './commands/compare.js';

export function buildProgram(): Command {
  const program = new Command('fmnist')
    .description('Train, compare, explain and serve Fashion-MNIST classifiers: Keras (tfjs) and PyTorch (libtorch).')
    .option('--verbose', 'print stack traces on errors')
    .showHelpAfterError('(run with --help for usage)');
  registerData(program);
  registerTrain(program);
  registerEvaluate(program);
  registerPredict(program);
  registerServe(program);
  registerCompare(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  program.exitOverride();
  try {
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
