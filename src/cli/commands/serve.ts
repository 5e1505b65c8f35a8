import type { Command } from 'commander';
import { startServer, type RunningServer } from '../../server/serve.js';
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
    .option('--port <port>', 'port to listen on', int(0), 8000)
    .option('--api-key <key>', 'require this bearer token on /v1 routes (default: $TINYVLLM_API_KEY)', process.env.TINYVLLM_API_KEY)
    .option('--served-model-name <name>', 'model name clients use (default: the model argument)')
    .option('--chat-template <file>', 'chat template for /v1/chat/completions: a Jinja file (or a .json transcript template) overriding the model\'s')
    .option('--max-waiting <n>', 'waiting-queue bound; more requests get 503', int(1))
    .option('--grace-period <seconds>', 'on SIGTERM, how long in-flight requests may finish', int(0), 30)
    .action(async (model: string | undefined, o: ServeOpts) => {
      try {
        const name = model ?? o.model;
        const dir = await resolveWithProgress(name, o.json);
        const spin = spinner(`Loading ${pc.bold(name)}`, o.json);
        // The server's log lines wait until loading ends: the banner then prints after the spinner,
        // and a failed load is reported once, by the error line below.
        let held: string[] | null = [];
        const log = (line: string) => (held ? held.push(line) : process.stderr.write(`${line}\n`));
        let server: RunningServer;
        try {
          server = await startServer({
            ...engineOptions({ ...o, model: dir }),
            host: o.host,
            port: o.port,
            apiKey: o.apiKey,
            servedModelName: o.servedModelName ?? name,
            chatTemplate: o.chatTemplate,
            maxWaiting: o.maxWaiting,
            gracePeriodMs: o.gracePeriod * 1000,
            logRequests: false,
            log,
          });
          await server.ready;
        } finally {
          spin.stop();
        }
        for (const line of held) process.stderr.write(`${line}\n`);
        held = null;
        // For scripts: one line saying where the server listens (useful with --port 0).
        if (o.json) process.stdout.write(JSON.stringify({ url: server.url, model: name, servedModelName: o.servedModelName ?? name }) + '\n');
      } catch (err) {
        fail(err, o.json);
      }
    });
}
