/**
 * Prometheus metrics, each under two names: `tinyvllm:*`, and vLLM's `vllm:*` with a `model_name`
 * label. The second set is the model-server protocol that routers scrape (the Gateway API Inference
 * Extension's endpoint picker, vLLM's production-stack router, autoscalers on
 * `vllm:num_requests_waiting`), so a tinyvllm fleet plugs into them unchanged. Engine-wide gauges
 * and counters are copied from `engine.stats()` once per scrape; latencies are measured here, per
 * request, as the client sees them. A private Registry keeps several servers in one process apart.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { EngineStats, FinishReason } from '../engine/outputs.js';
import type { SpecDecodeStats } from '../engine/spec/stats.js';

const LATENCY_BUCKETS = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80];
const ITL_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5];

type StatKey = 'prefixCacheQueries' | 'prefixCacheHits' | 'numPreemptions' | 'promptTokens' | 'generationTokens';

/** Engine counters exported as Prometheus counters (they only grow). */
const STAT_COUNTERS: readonly (readonly [string, StatKey, string])[] = [
  ['prefix_cache_queries_total', 'prefixCacheQueries', 'Prompt tokens looked up in the prefix cache.'],
  ['prefix_cache_hits_total', 'prefixCacheHits', 'Prompt tokens found in the prefix cache.'],
  ['num_preemptions_total', 'numPreemptions', 'Requests preempted to free KV blocks.'],
  ['prompt_tokens_total', 'promptTokens', 'Prompt tokens processed.'],
  ['generation_tokens_total', 'generationTokens', 'Tokens generated.'],
];

type SpecKey = 'numDrafts' | 'numDraftTokens' | 'numAcceptedTokens';

/** Speculative decoding counters (vLLM's spec_decode family), present when the engine speculates. */
const SPEC_COUNTERS: readonly (readonly [string, SpecKey, string])[] = [
  ['spec_decode_num_drafts_total', 'numDrafts', 'Drafts verified (one per speculating sequence and step).'],
  ['spec_decode_num_draft_tokens_total', 'numDraftTokens', 'Draft tokens proposed.'],
  ['spec_decode_num_accepted_tokens_total', 'numAcceptedTokens', 'Draft tokens the target model accepted.'],
];

/** `tinyvllm:NAME` and, for each alias, `vllm:ALIAS{model_name}`: written together, read apart. */
class Twin<M extends Gauge | Counter | Histogram> {
  constructor(
    readonly own: M,
    readonly vllm: readonly M[],
  ) {}
  each(f: (m: M) => void): void {
    f(this.own);
    for (const m of this.vllm) f(m);
  }
}

export class ServerMetrics {
  readonly registry = new Registry();
  private readonly running: Twin<Gauge>;
  private readonly waiting: Twin<Gauge>;
  private readonly kvUsage: Twin<Gauge>;
  private readonly cacheConfig: Gauge;
  private readonly counters: { twin: Twin<Counter>; key: StatKey; last: number }[];
  private readonly specCounters: { twin: Twin<Counter>; key: SpecKey; last: number }[];
  private readonly specPerPos: Twin<Counter>;
  private specPerPosLast: number[] = [];
  private readonly success: Twin<Counter>;
  private readonly backpressureAborts: Counter;
  readonly ttft: Twin<Histogram>;
  readonly itl: Twin<Histogram>;
  readonly e2e: Twin<Histogram>;

  /** `modelName` is the served model name, the `model_name` label of every `vllm:*` metric. */
  constructor(readonly modelName = 'tinyvllm') {
    const registers = [this.registry];
    const labels = { model_name: modelName };
    const twin = <M extends Gauge | Counter | Histogram>(
      make: (name: string, labelNames: string[]) => M,
      name: string,
      aliases: readonly string[] = [name],
      extraLabels: string[] = [],
    ): Twin<M> =>
      new Twin(
        make(`tinyvllm:${name}`, extraLabels),
        aliases.map((a) => make(`vllm:${a}`, ['model_name', ...extraLabels])),
      );
    const gauge = (name: string, help: string, aliases?: readonly string[]): Twin<Gauge> =>
      twin((n, labelNames) => new Gauge({ name: n, help, labelNames, registers }), name, aliases);
    const counter = (name: string, help: string, extra: string[] = []): Twin<Counter> =>
      twin((n, labelNames) => new Counter({ name: n, help, labelNames, registers }), name, [name], extra);
    const histogram = (name: string, help: string, buckets: number[], aliases?: readonly string[]): Twin<Histogram> =>
      twin((n, labelNames) => new Histogram({ name: n, help, buckets, labelNames, registers }), name, aliases);

    this.running = gauge('num_requests_running', 'Requests in the running batch.');
    this.waiting = gauge('num_requests_waiting', 'Requests waiting to be scheduled (engine queue plus server queue).');
    // `gpu_cache_usage_perc` is vLLM's older name, still read by some routers.
    this.kvUsage = gauge('kv_cache_usage_perc', 'Fraction of KV cache blocks in use (0 to 1).', ['kv_cache_usage_perc', 'gpu_cache_usage_perc']);
    this.cacheConfig = new Gauge({
      name: 'vllm:cache_config_info',
      help: 'KV cache configuration (value 1); routers read block_size for prefix-aware scoring.',
      labelNames: ['model_name', 'block_size', 'num_gpu_blocks'],
      registers,
    });
    this.counters = STAT_COUNTERS.map(([name, key, help]) => ({ twin: counter(name, help), key, last: 0 }));
    this.specCounters = SPEC_COUNTERS.map(([name, key, help]) => ({ twin: counter(name, help), key, last: 0 }));
    this.specPerPos = counter('spec_decode_num_accepted_tokens_per_pos_total', 'Accepted draft tokens by position in the draft (0 = first).', ['position']);
    this.success = counter('request_success_total', 'Finished completions (one per choice), by finish reason.', ['finished_reason']);
    this.backpressureAborts = new Counter({
      name: 'tinyvllm:stream_backpressure_aborts_total',
      help: 'Streams dropped (and their requests aborted) because the client stopped reading.',
      registers,
    });
    this.ttft = histogram('time_to_first_token_seconds', 'Time from arrival to the first generated token.', LATENCY_BUCKETS);
    // vLLM exports the same observations as `time_per_output_token_seconds` (its older name).
    this.itl = histogram('inter_token_latency_seconds', 'Time between consecutive token deliveries.', ITL_BUCKETS, [
      'inter_token_latency_seconds',
      'time_per_output_token_seconds',
    ]);
    this.e2e = histogram('e2e_request_latency_seconds', 'Time from arrival to the last token.', LATENCY_BUCKETS);

    // Labelled series exist from the start, so a scraper sees every family before the first request.
    for (const t of [this.running, this.waiting, this.kvUsage]) for (const g of t.vllm) g.set(labels, 0);
    for (const c of this.counters) for (const m of c.twin.vllm) m.inc(labels, 0);
    for (const t of [this.ttft, this.itl, this.e2e]) for (const h of t.vllm) h.zero(labels);
  }

  /** Copies engine-wide numbers in; `serverWaiting` counts requests queued in the server itself. */
  updateFromStats(stats: EngineStats, serverWaiting: number): void {
    const labels = { model_name: this.modelName };
    const set = (t: Twin<Gauge>, v: number): void => {
      t.own.set(v);
      for (const g of t.vllm) g.set(labels, v);
    };
    set(this.running, stats.numRunning);
    set(this.waiting, stats.numWaiting + serverWaiting);
    set(this.kvUsage, stats.kvCacheUsage);
    this.cacheConfig.reset();
    this.cacheConfig.set({ ...labels, block_size: String(stats.blockSize), num_gpu_blocks: String(stats.numBlocks) }, 1);
    for (const c of this.counters) {
      const value = stats[c.key];
      if (value > c.last) {
        c.twin.own.inc(value - c.last);
        for (const m of c.twin.vllm) m.inc(labels, value - c.last);
      }
      c.last = value;
    }
    if (stats.specDecode) this.updateSpec(stats.specDecode, labels);
  }

  private updateSpec(spec: SpecDecodeStats, labels: { model_name: string }): void {
    for (const c of this.specCounters) {
      const value = spec[c.key];
      if (value > c.last || c.last === 0) {
        c.twin.own.inc(value - c.last);
        for (const m of c.twin.vllm) m.inc(labels, value - c.last);
      }
      c.last = value;
    }
    spec.acceptedPerPos.forEach((value, i) => {
      const last = this.specPerPosLast[i] ?? -1;
      if (value <= last) return;
      const inc = value - Math.max(0, last);
      const position = String(i);
      this.specPerPos.own.inc({ position }, inc);
      for (const m of this.specPerPos.vllm) m.inc({ ...labels, position }, inc);
      this.specPerPosLast[i] = value;
    });
  }

  countFinished(reason: FinishReason): void {
    this.success.own.inc({ finished_reason: reason });
    for (const m of this.success.vllm) m.inc({ model_name: this.modelName, finished_reason: reason });
  }

  /** Records one latency observation (seconds) under both names. */
  observe(h: Twin<Histogram>, seconds: number): void {
    h.own.observe(seconds);
    for (const m of h.vllm) m.observe({ model_name: this.modelName }, seconds);
  }

  countBackpressureAbort(): void {
    this.backpressureAborts.inc();
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
    if (this.last === null) this.metrics.observe(this.metrics.ttft, (now - this.start) / 1000);
    else this.metrics.observe(this.metrics.itl, (now - this.last) / 1000);
    this.last = now;
  }

  /** Called once, with the finish reason of each choice. */
  onFinish(reasons: readonly FinishReason[]): void {
    this.metrics.observe(this.metrics.e2e, (performance.now() - this.start) / 1000);
    for (const r of reasons) this.metrics.countFinished(r);
  }
}
