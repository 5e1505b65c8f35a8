/** The `tinyvllm` command line. Each command lives in its own file under commands/. */
import { Command } from 'commander';
import { registerTokenize } from './commands/tokenize.js';
import { registerPredict } from './commands/predict.js';
import { registerGenerate } from './commands/generate.js';
import { registerInfo } from './commands/info.js';
import { registerDownload } from './commands/download.js';
import { registerServe } from './commands/serve.js';
import { registerBench } from './commands/bench.js';
import { fail, oneLine, pc } from './ui.js';
import { VERSION } from '../version.js';

/** Known before parsing, so that usage errors (which stop parsing) can honour it too. */
const json = process.argv.includes('--json');

const program = new Command();
program
  .name('tinyvllm')
  .description('A fast LLM inference engine for GPT-2-family models: paged KV cache, continuous batching, OpenAI-compatible server.')
  .version(VERSION)
  // Usage errors (unknown flag, bad value) get the same form as every other error: one line on
  // stderr, and with --json the JSON error object on stdout.
  .configureOutput({
    outputError: (str, write) => {
      if (json) process.stdout.write(JSON.stringify({ error: { message: oneLine(str) } }) + '\n');
      write(`${pc.red(pc.bold('error:'))} ${oneLine(str)} ${pc.dim('(see --help)')}\n`);
    },
  });

registerGenerate(program);
registerPredict(program);
registerTokenize(program);
registerInfo(program);
registerServe(program);
registerDownload(program);
registerBench(program);

await program.parseAsync(process.argv).catch((err: unknown) => fail(err, json));
