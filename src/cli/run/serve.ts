/** `tinyvllm serve`, loaded only when the command runs (the server's modules are the CLI's heaviest). */
import { startServer, type RunningServer } from '../../server/serve.js';
import { engineOptions, type CommonOpts, type RawEngineFlags } from '../options.js';
import { resolveWithProgress } from '../load.js';
import { spinner } from '../progress.js';
import { fail, pc } from '../ui.js';

export type ServeOpts = CommonOpts &
  RawEngineFlags & {
    host: string;
    port: number;
    apiKey?: string;
    servedModelName?: string;
    chatTemplate?: string;
    maxWaiting?: number;
    maxPromptsPerRequest?: number;
    maxInputChars?: number;
    maxStreamBuffer?: number;
    gracePeriod: number;
    ui: boolean;
  };

export async function serve(model: string | undefined, o: ServeOpts): Promise<void> {
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
        maxPromptsPerRequest: o.maxPromptsPerRequest,
        maxInputChars: o.maxInputChars,
        maxStreamBuffer: o.maxStreamBuffer,
        gracePeriodMs: o.gracePeriod * 1000,
        logRequests: false,
        ui: o.ui,
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
    fail(listenError(err, o), o.json);
  }
}

/** Says what to do when the address is taken or not ours to use. */
function listenError(err: unknown, o: ServeOpts): unknown {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  const where = `${o.host}:${o.port}`;
  if (code === 'EADDRINUSE') return new Error(`${where} is already in use (another server?): pass --port 0 to pick a free port, or choose another --port`);
  if (code === 'EACCES') return new Error(`no permission to listen on ${where} (ports below 1024 need privileges): choose another --port, or --port 0 for a free one`);
  if (code === 'EADDRNOTAVAIL') return new Error(`${o.host} is not an address of this machine: pass --host 127.0.0.1, or 0.0.0.0 for every interface`);
  return err;
}
