/**
 * Prometheus metrics, named after vLLM's (`vllm:` → `tinyvllm:`). Engine-wide gauges and counters are
 * copied from `engine.stats()` once per scrape; latencies are measured here, per request, as the
 * client sees them. A private Registry keeps several servers in one process (tests) apart.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { EngineStats, FinishReason } from '../engine/outputs.js';

const LATENCY_BUCKETS = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80];
const ITL_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5];

/** Engine counters exported as Prometheus counters (they only grow). */
const STAT_COUNTERS = [
  ['prefix_cache_queries_total', 'prefixCacheQueries', 'Prompt tokens looked up in the prefix cache.'],
  ['prefix_cache_hits_total', 'prefixCacheHits', 'Prompt tokens found in the prefix cache.'],
  ['num_preemptions_total', 'numPreemptions', 'Requests preempted to free KV blocks.'],
  ['prompt_tokens_total', 'promptTokens', 'Prompt tokens processed.'],
  ['generation_tokens_total', 'generationTokens', 'Tokens generated.'],
] as const;

export class ServerMetrics {
  readonly registry = new Registry();
  private readonly running: Gauge;
  private readonly waiting: Gauge;
  private readonly kvUsage: Gauge;
  private readonly counters: { counter: Counter; key: (typeof STAT_COUNTERS)[number][1]; last: number }[];
  private readonly success: Counter<'finished_reason'>;
  readonly ttft: Histogram;
  readonly itl: Histogram;
  readonly e2e: Histogram;

  constructor() {
    const registers = [this.registry];
    const gauge = (name: string, help: string): Gauge => new Gauge({ name: `tinyvllm:${name}`, help, registers });
    this.running = gauge('num_requests_running', 'Requests in the running batch.');
    this.waiting = gauge('num_requests_waiting', 'Requests waiting to be scheduled (engine queue plus server queue).');
    this.kvUsage = gauge('kv_cache_usage_perc', 'Fraction of KV cache blocks in use (0 to 1).');
    this.counters = STAT_COUNTERS.map(([name, key, help]) => ({
      counter: new Counter({ name: `tinyvllm:${name}`, help, registers }),
      key,
      last: 0,
    }));
    this.success = new Counter({
      name: 'tinyvllm:request_success_total',
      help: 'Finished completions (one per choice), by finish reason.',
      labelNames: ['finished_reason'],
      registers,
    });
    const histogram = (name: string, help: string, buckets: number[]): Histogram =>
      new Histogram({ name: `tinyvllm:${name}`, help, buckets, registers });
    this.ttft = histogram('time_to_first_token_seconds', 'Time from arrival to the first generated token.', LATENCY_BUCKETS);
    this.itl = histogram('inter_token_latency_seconds', 'Time between consecutive token deliveries.', ITL_BUCKETS);
    this.e2e = histogram('e2e_request_latency_seconds', 'Time from arrival to the last token.', LATENCY_BUCKETS);
  }

  /** Copies engine-wide numbers in; `serverWaiting` counts requests queued in the server itself. */
  updateFromStats(stats: EngineStats, serverWaiting: number): void {
    this.running.set(stats.numRunning);
    this.waiting.set(stats.numWaiting + serverWaiting);
    this.kvUsage.set(stats.kvCacheUsage);
    for (const c of this.counters) {
      const value = stats[c.key];
      if (value > c.last) c.counter.inc(value - c.last);
      c.last = value;
    }
  }

  countFinished(reason: FinishReason): void {
    this.success.inc({ finished_reason: reason });
  }

  /** Starts timing one engine request that arrived at `arrival` (`performance.now()` ms). */
  startRequest(arrival = performance.now()): RequestTimer {
    return new RequestTimer(this, arrival);
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

/** Latencies of one engine request, observed as its deltas arrive. */
export class RequestTimer {
  private last: number | null = null;

  constructor(
    private readonly metrics: ServerMetrics,
    private readonly start: number,
  ) {}

  /** Called for each delta that carries new tokens. */
  onTokens(): void {
    const now = performance.now();
    if (this.last === null) this.metrics.ttft.observe((now - this.start) / 1000);
    else this.metrics.itl.observe((now - this.last) / 1000);
    this.last = now;
  }

  /** Called once, with the finish reason of each choice. */
  onFinish(reasons: readonly FinishReason[]): void {
    this.metrics.e2e.observe((performance.now() - this.start) / 1000);
    for (const r of reasons) this.metrics.countFinished(r);
  }
}
