/**
 * Server-sent events as OpenAI streams them: `data: {json}\n\n` per chunk, `data: [DONE]\n\n` at the
 * end. Written straight to the Node response (Fastify's reply is hijacked). Events are written as
 * the engine makes them; if the client stops reading, the unsent bytes pile up in the response, and
 * once they pass `maxBuffered` the connection is dropped, which aborts the request in the engine
 * (see app.ts), so a stalled client cannot keep sequences generating for nobody.
 */
import type { ServerResponse } from 'node:http';

/** Default bound on a stream's unsent bytes (`maxStreamBuffer`). */
export const DEFAULT_MAX_STREAM_BUFFER = 4 * 1024 * 1024;

export class SseWriter {
  private overflowed = false;

  constructor(
    private readonly res: ServerResponse,
    private readonly maxBuffered = DEFAULT_MAX_STREAM_BUFFER,
    private readonly onOverflow: () => void = () => {},
  ) {}

  /** True once the client went away, the stream was ended, or it was dropped for not being read. */
  get closed(): boolean {
    return this.overflowed || this.res.destroyed || this.res.writableEnded;
  }

  start(): void {
    // No `connection` header: Node answers keep-alive or close as the request asked.
    this.res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      'x-accel-buffering': 'no',
    });
    this.res.flushHeaders();
  }

  /** Sends one event (dropped if the stream is closed). */
  async send(data: unknown): Promise<void> {
    await this.write(`data: ${JSON.stringify(data)}\n\n`);
  }

  /** Sends the `[DONE]` sentinel and ends the response. */
  async done(): Promise<void> {
    await this.write('data: [DONE]\n\n');
    if (!this.closed) this.res.end();
  }

  private async write(text: string): Promise<void> {
    if (this.closed) return;
    if (this.res.write(text)) return;
    if (this.res.writableLength > this.maxBuffered) {
      this.overflowed = true;
      this.onOverflow();
      this.res.destroy();
      return;
    }
    // Over the socket's high-water mark: give the event loop one turn, so the socket can flush and a
    // client in step can read, before writing more (a backlog of deltas would otherwise be written
    // in one go). A client that does not read lets the unsent bytes grow to `maxBuffered`.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}
