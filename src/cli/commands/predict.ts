import type { Command } from 'commander';
import { addCommonOptions, addQuantizationOptions, int } from '../options.js';
import type { PredictOpts } from '../run/predict.js';

export function registerPredict(program: Command): void {
  addQuantizationOptions(addCommonOptions(program.command('predict').description('show the next-token probability table').argument('<text>', 'prompt')))
    .option('-k, --top-k <k>', 'how many candidates to show', int(1), 10)
    .action(async (text: string, o: PredictOpts) => (await import('../run/predict.js')).predict(text, o));
}
