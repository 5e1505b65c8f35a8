/**
 * The pages' only way to the server: its own OpenAI endpoints and the snapshot stream, with the API
 * key (asked once, kept in sessionStorage) and errors turned into readable messages.
 */

const KEY = 'tinyvllm.apiKey';

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

export function apiKey(): string | null {
  return sessionStorage.getItem(KEY);
}

export function setApiKey(key: string | null): void {
  if (key) sessionStorage.setItem(KEY, key);
  else sessionStorage.removeItem(KEY);
}

function headers(json: boolean): Record<string, string> {
  const h: Record<string, string> = {};
  if (json) h['content-type'] = 'application/json';
  const key = apiKey();
  if (key) h.authorization = `Bearer ${key}`;
  return h;
}

/** The message a person should read for a failed response. */
async function failure(res: Response): Promise<ApiError> {
  let message = `${res.status} ${res.statusText}`;
  try {
    const body = (await res.json()) as { error?: { message?: string } };
    if (body.error?.message) message = body.error.message;
  } catch {
    // not JSON: keep the status line
  }
  if (res.status === 401) message = `The server needs an API key (${message})`;
  if (res.status === 503) message = `The server is busy or still loading: ${message}`;
  return new ApiError(message, res.status);
}

async function call(path: string, init: RequestInit): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(path, init);
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw new ApiError(`Cannot reach the server (${(e as Error).message}). Is it still running?`, 0);
  }
  if (!res.ok) throw await failure(res);
  return res;
}

export async function getJson<T>(path: string): Promise<T> {
  return (await (await call(path, { headers: headers(false) })).json()) as T;
}

export async function postJson<T>(path: string, body: unknown, signal?: AbortSignal): Promise<T> {
  return (await (await call(path, { method: 'POST', headers: headers(true), body: JSON.stringify(body), signal })).json()) as T;
}

/** Reads a server-sent-event stream, calling `onEvent` with each `data:` payload parsed as JSON. */
export async function readEvents(res: Response, onEvent: (data: unknown) => void): Promise<void> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    let chunk: ReadableStreamReadResult<Uint8Array>;
    try {
      chunk = await reader.read();
    } catch (e) {
      if ((e as Error).name === 'AbortError') throw e;
      throw new ApiError('The connection to the server was lost.', 0);
    }
    if (chunk.done) break;
    buffer += decoder.decode(chunk.value, { stream: true });
    let sep: number;
    while ((sep = buffer.indexOf('\n\n')) >= 0) {
      const event = buffer.slice(0, sep);
      buffer = buffer.slice(sep + 2);
      const data = event.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
      if (!data || data === '[DONE]') continue;
      const parsed = JSON.parse(data) as { error?: { message: string } };
      if (parsed.error) throw new ApiError(parsed.error.message, 500);
      onEvent(parsed);
    }
  }
}

/** POSTs a streaming request and feeds its events to `onEvent`; resolves when the stream ends. */
export async function stream(path: string, body: unknown, onEvent: (data: unknown) => void, signal: AbortSignal): Promise<void> {
  const res = await call(path, { method: 'POST', headers: headers(true), body: JSON.stringify({ ...(body as object), stream: true }), signal });
  await readEvents(res, onEvent);
}

/** Opens the engine snapshot stream (fetch, not EventSource, so the API key can travel in a header). */
export async function snapshots(intervalMs: number, onEvent: (data: unknown) => void, signal: AbortSignal): Promise<void> {
  const res = await call(`/engine/snapshots?interval=${intervalMs}`, { headers: headers(false), signal });
  await readEvents(res, onEvent);
}
