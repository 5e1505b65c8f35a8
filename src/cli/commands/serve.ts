import { InvalidArgumentError, type Command } from 'commander';
import { parseMemorySize } from '../../engine/memory-size.js';
import { addCommonOptions, addQuantizationOptions, addEngineOptions, int } from '../options.js';
import type { ServeOpts } from '../run/serve.js';

function size(v: string): number {
  try {
    return parseMemorySize(v, 'size');
  } catch {
    throw new InvalidArgumentError("Expected a size such as '4MiB' or a number of bytes.");
  }
}

export function registerServe(program: Command): void {
  const cmd = program.command('serve').description('start the OpenAI-compatible HTTP server').argument('[model]', 'checkpoint directory or hub name (same as --model)');
  addEngineOptions(addQuantizationOptions(addCommonOptions(cmd)))
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port to listen on', int(0), 8000)
    .option('--api-key <key>', 'require this bearer token on /v1 routes (default: $TINYVLLM_API_KEY)', process.env.TINYVLLM_API_KEY)
    .option('--served-model-name <name>', 'model name clients use (default: the model argument)')
    .option('--chat-template <file>', 'chat template for /v1/chat/completions: a Jinja file (or a .json transcript template) overriding the model\'s')
    .option('--max-waiting <n>', 'waiting-queue bound in sequences (prompts × n); beyond it requests get 503', int(1))
    .option('--max-prompts-per-request <n>', 'most prompts in one /v1/completions request (default 1024)', int(1))
    .option('--max-input-chars <n>', 'most characters of text one request may have tokenised (default 100000)', int(1))
    .option('--max-stream-buffer <size>', "unsent bytes after which a stalled stream is dropped and its request aborted (default '4MiB')", size)
    .option('--grace-period <seconds>', 'on SIGTERM, how long in-flight requests may finish', int(0), 30)
    .option('--no-ui', 'do not serve the playground (/) and the engine view (/dashboard)')
    .action(async (model: string | undefined, o: ServeOpts) => (await import('../run/serve.js')).serve(model, o));
}
