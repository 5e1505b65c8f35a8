/**
 * HTTP to the hub as huggingface_hub does it: a bearer token, identity encoding, retries with
 * exponential backoff on 429 / 5xx / network errors (honouring Retry-After), and a HEAD that
 * follows same-origin redirects (a renamed repo) but not the CDN redirect whose headers carry
 * the file's identity (X-Linked-Etag / X-Linked-Size).
 */

export interface RetryOptions {
  /** Attempts per request, the first included (default 5). */
  attempts?: number;
  /** First backoff delay in ms, doubled each retry up to `maxDelayMs` (default 500). */
  delayMs?: number;
  /** Longest wait between attempts, Retry-After included (default 8000). */
  maxDelayMs?: number;
}

export interface HubClient {
  readonly repo: string;
  /** Authorization and encoding headers sent with every request. */
  readonly headers: Record<string, string>;
  /** Where the token came from (for error hints), or null without one. */
  readonly tokenSource: string | null;
  readonly retry: Required<RetryOptions>;
  readonly signal: AbortSignal | undefined;
}

export interface RequestInit {
  method?: string;
  redirect?: 'follow' | 'manual';
  headers?: Record<string, string>;
}

/** An answer from the hub that retrying will not change. */
export class HttpError extends Error {}

const RETRY_STATUS = new Set([429, 500, 502, 503, 504]);

export function retryOptions(o: RetryOptions = {}): Required<RetryOptions> {
  return { attempts: o.attempts ?? 5, delayMs: o.delayMs ?? 500, maxDelayMs: o.maxDelayMs ?? 8000 };
}

/** The wait before retry number `attempt` (1-based). */
export function backoffMs(retry: Required<RetryOptions>, attempt: number, retryAfter: string | null = null): number {
  const seconds = retryAfter !== null && /^\d+$/.test(retryAfter.trim()) ? Number(retryAfter) : null;
  return Math.min(retry.maxDelayMs, seconds !== null ? seconds * 1000 : retry.delayMs * 2 ** (attempt - 1));
}

export function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const done = () => {
      signal?.removeEventListener('abort', abort);
      resolve();
    };
    const timer = setTimeout(done, ms);
    const abort = () => {
      clearTimeout(timer);
      reject(signal!.reason as Error);
    };
    signal?.addEventListener('abort', abort, { once: true });
  });
}

/** fetch with the client's headers, retrying 429 / 5xx answers and network errors. */
export async function request(c: HubClient, url: string, init: RequestInit = {}): Promise<Response> {
  for (let attempt = 1; ; attempt++) {
    let res: Response;
    try {
      res = await fetch(url, { ...init, headers: { ...c.headers, ...init.headers }, signal: c.signal });
    } catch (e) {
      if (c.signal?.aborted) throw e;
      if (attempt < c.retry.attempts) {
        await sleep(backoffMs(c.retry, attempt), c.signal);
        continue;
      }
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      throw new Error(
        `Network error reaching ${url} (${attempt} attempts): ${cause?.code ?? cause?.message ?? (e as Error).message}. ` +
          'Check the connection or HF_ENDPOINT; with the model already cached, HF_HUB_OFFLINE=1 skips the network.',
      );
    }
    if (!RETRY_STATUS.has(res.status) || attempt >= c.retry.attempts) return res;
    await res.body?.cancel();
    await sleep(backoffMs(c.retry, attempt, res.headers.get('retry-after')), c.signal);
  }
}

/**
 * HEAD without following redirects, except same-origin ones (huggingface_hub follows relative
 * redirects: a renamed or transferred repo), so a CDN redirect's X-Linked-* headers stay visible.
 * Returns the last response and the URL that gave it.
 */
export async function headFile(c: HubClient, url: string): Promise<{ res: Response; url: string }> {
  for (let hops = 0; ; hops++) {
    const res = await request(c, url, { method: 'HEAD', redirect: 'manual' });
    const location = res.headers.get('location');
    if (res.status < 300 || res.status >= 400 || location === null) return { res, url };
    const next = new URL(location, url);
    if (next.origin !== new URL(url).origin) return { res, url };
    if (hops >= 10) throw new Error(`Too many redirects from ${url}`);
    url = next.href;
  }
}

export function httpError(c: HubClient, res: Response, url: string, what: string): HttpError {
  const s = res.status;
  if (s === 401 || s === 403) {
    const hint = c.tokenSource !== null
      ? `the token in ${c.tokenSource} was rejected or has no access to it`
      : 'if it is private or gated, set HF_TOKEN to an access token (https://huggingface.co/settings/tokens) or run `hf auth login`';
    // The hub answers 401 for repos that do not exist too, so both causes are named.
    return new HttpError(`Access denied (HTTP ${s}) to ${what} at ${url}: ${hint}; or the repo does not exist`);
  }
  if (s === 404) return new HttpError(`Not found (HTTP 404): ${what} at ${url}; check the model name and revision`);
  const tries = RETRY_STATUS.has(s) ? ` (${c.retry.attempts} attempts)` : '';
  return new HttpError(`HTTP ${s} ${res.statusText} from ${url} while fetching ${what}${tries}`);
}
