/**
 * Server-sent events as OpenAI streams them: `data: {json}\n\n` per chunk, `data: [DONE]\n\n` at the
 * end. Written straight to the Node response (Fastify's reply is hijacked), honouring backpressure so
 * a slow client cannot make the server buffer a whole generation.
 */
import type { ServerResponse } from 'node:http';

export class SseWriter {
  constructor(private readonly res: ServerResponse) {}

  /** True once the client went away or the stream was ended. */
  get closed(): boolean {
    return this.res.destroyed || this.res.writableEnded;
  }

  start(): void {
    this.res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    this.res.flushHeaders();
  }

  /** Sends one event; resolves once the socket can take more. */
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
    if (!this.res.write(text)) {
      // Wait for the buffer to drain, or for the connection to close.
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          this.res.off('drain', wake);
          this.res.off('close', wake);
          resolve();
        };
        this.res.on('drain', wake);
        this.res.on('close', wake);
      });
    }
  }
}
