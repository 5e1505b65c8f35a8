/** The `tinyvllm` command line. Each command lives in its own file under commands/. */
import { Command } from 'commander';
import { registerTokenize } from './commands/tokenize.js';
import { registerPredict } from './commands/predict.js';
import { registerGenerate } from './commands/generate.js';
import { registerInfo } from './commands/info.js';
import { registerDownload } from './commands/download.js';
import { registerServe } from './commands/serve.js';
import { registerBench } from './commands/bench.js';
import { VERSION } from '../version.js';

const program = new Command();
program
  .name('tinyvllm')
  .description('A fast LLM inference engine for GPT-2-family models: paged KV cache, continuous batching, OpenAI-compatible server.')
  .version(VERSION)
  .showHelpAfterError('(run with --help for usage)')
  .configureOutput({ outputError: (str, write) => write(str.replace(/^error:/, '\x1b[31merror:\x1b[39m')) });

registerGenerate(program);
registerPredict(program);
registerTokenize(program);
registerInfo(program);
registerServe(program);
registerDownload(program);
registerBench(program);

await program.parseAsync(process.argv);
