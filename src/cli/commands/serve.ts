import type { Command } from 'commander';
import { startServer } from '../../server/serve.js';
import { addCommonOptions, addEngineOptions, engineOptions, int, type CommonOpts, type RawEngineFlags } from '../options.js';
import { resolveWithProgress } from '../load.js';
import { fail, pc, spinner } from '../ui.js';

type ServeOpts = CommonOpts &
  RawEngineFlags & {
    host: string;
    port: number;
    apiKey?: string;
    servedModelName?: string;
    chatTemplate?: string;
    maxWaiting?: number;
    gracePeriod: number;
  };

export function registerServe(program: Command): void {
  const cmd = program.command('serve').description('start the OpenAI-compatible HTTP server').argument('[model]', 'checkpoint directory or hub name (same as --model)');
  addEngineOptions(addCommonOptions(cmd))
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port to listen on', int('--port', 0), 8000)
    .option('--api-key <key>', 'require this bearer token on /v1 routes (default: $TINYVLLM_API_KEY)', process.env.TINYVLLM_API_KEY)
    .option('--served-model-name <name>', 'model name clients use (default: the model argument)')
    .option('--chat-template <file>', 'JSON chat template for /v1/chat/completions')
    .option('--max-waiting <n>', 'waiting-queue bound; more requests get 503', int('--max-waiting', 1))
    .option('--grace-period <seconds>', 'on SIGTERM, how long in-flight requests may finish', int('--grace-period', 0), 30)
    .action(async (model: string | undefined, o: ServeOpts) => {
      try {
        const name = model ?? o.model;
        const dir = await resolveWithProgress(name, false);
        const spin = spinner(`Loading ${pc.bold(name)}`, false);
        const server = await startServer({
          ...engineOptions({ ...o, model: dir }),
          host: o.host,
          port: o.port,
          apiKey: o.apiKey,
          servedModelName: o.servedModelName ?? name,
          chatTemplate: o.chatTemplate,
          maxWaiting: o.maxWaiting,
          gracePeriodMs: o.gracePeriod * 1000,
          logRequests: false,
          // The spinner must be gone before the banner prints.
          log: (line) => {
            spin.stop();
            process.stderr.write(`${line}\n`);
          },
        });
        try {
          await server.ready;
          spin.stop();
        } catch (err) {
          spin.fail(`Could not load ${name}`);
          throw err;
        }
      } catch (err) {
        fail(err, false);
      }
    });
}
