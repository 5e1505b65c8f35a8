/**
 * The live engine view: the paged KV cache block by block, the running and waiting sequences, and
 * per-step charts, drawn from the server's engine-snapshot stream (a few snapshots a second).
 */
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { ApiError, apiKey, setApiKey, snapshots } from './api.js';
import { byId, h, showError } from './dom.js';
import './style.css';

// Mirrors src/engine/snapshot.ts (the page is built separately from the server's code).
interface StepRecord { t: number; prefillTokens: number; decodeTokens: number; ms: number; preempted: number; ttftMs: number[] }
interface SequenceView { id: string; promptTokens: number; computedTokens: number; generatedTokens: number; cachedTokens: number; state: string; blocks: number }
interface Snapshot {
  time: number;
  blockSize: number;
  numBlocks: number;
  blockRuns: number[];
  running: SequenceView[];
  waiting: SequenceView[];
  steps: StepRecord[];
  stats: { kvCacheUsage: number; prefixCacheQueries: number; prefixCacheHits: number; numPreemptions: number; generationTokens: number };
}

const STATES = ['null', 'free', 'cached', 'used'] as const;
const COLORS = { null: '#4a5160', free: '#e3e6ec', cached: '#9cc3ee' };
const WINDOW_S = 60;

/** A stable hue per request id, so one request keeps its colour across snapshots. */
function hueOf(id: string): number {
  let x = 2166136261;
  for (let i = 0; i < id.length; i++) x = Math.imul(x ^ id.charCodeAt(i), 16777619);
  return ((x >>> 0) % 360 + 360) % 360;
}

const percentile = (xs: number[], p: number): number => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

/** The block map: one cell per block, drawn on a canvas; hover names the block's owner. */
class BlockMap {
  private readonly canvas = byId<HTMLCanvasElement>('blocks');
  private cell = 8;
  private cols = 1;
  private owners: (string | null)[] = [];
  private states: number[] = [];
  private refs: number[] = [];

  draw(s: Snapshot): void {
    const width = this.canvas.parentElement!.clientWidth;
    this.cell = Math.max(3, Math.min(14, Math.floor(Math.sqrt((width * 360) / s.numBlocks))));
    this.cols = Math.max(1, Math.floor(width / this.cell));
    const rows = Math.ceil(s.numBlocks / this.cols);
    const dpr = window.devicePixelRatio || 1;
    this.canvas.width = this.cols * this.cell * dpr;
    this.canvas.height = rows * this.cell * dpr;
    this.canvas.style.height = `${rows * this.cell}px`;
    const g = this.canvas.getContext('2d')!;
    g.scale(dpr, dpr);
    this.owners = new Array<string | null>(s.numBlocks).fill(null);
    this.states = new Array<number>(s.numBlocks).fill(0);
    this.refs = new Array<number>(s.numBlocks).fill(0);
    const counts = [0, 0, 0, 0];
    let shared = 0;
    let id = 0;
    const gap = this.cell > 4 ? 1 : 0;
    for (let r = 0; r < s.blockRuns.length; r += 4) {
      const [state, owner, ref, len] = s.blockRuns.slice(r, r + 4) as [number, number, number, number];
      const name = STATES[state]!;
      const ownerId = owner >= 0 ? (s.running[owner]?.id ?? null) : null;
      g.fillStyle = name === 'used' ? `hsl(${hueOf(ownerId ?? '')} 65% 55%)` : COLORS[name];
      for (let k = 0; k < len; k++, id++) {
        const x = (id % this.cols) * this.cell;
        const y = Math.floor(id / this.cols) * this.cell;
        g.fillRect(x, y, this.cell - gap, this.cell - gap);
        if (ref > 1) {
          // Shared through the prefix cache: a dark centre dot marks ref count > 1.
          const fill: string | CanvasGradient | CanvasPattern = g.fillStyle;
          g.fillStyle = '#1d2330';
          const d = Math.max(1, Math.floor(this.cell / 3));
          g.fillRect(x + (this.cell - gap - d) / 2, y + (this.cell - gap - d) / 2, d, d);
          g.fillStyle = fill;
        }
        this.owners[id] = ownerId;
        this.states[id] = state;
        this.refs[id] = ref;
      }
      counts[state]! += len;
      if (ref > 1) shared += len;
    }
    const d = this.canvas.dataset;
    d.used = String(counts[3]);
    d.cached = String(counts[2]);
    d.free = String(counts[1]);
    d.shared = String(shared);
    byId('block-summary').textContent = `${s.numBlocks} blocks of ${s.blockSize} tokens · used ${counts[3]} · cached ${counts[2]} · free ${counts[1]} · shared ${shared}`;
  }

  /** Tooltip text for the block under (x, y) in CSS pixels. */
  describe(x: number, y: number): string | null {
    const col = Math.floor(x / this.cell);
    const row = Math.floor(y / this.cell);
    if (col >= this.cols) return null;
    const id = row * this.cols + col;
    if (id >= this.states.length) return null;
    const state = STATES[this.states[id]!]!;
    const owner = this.owners[id];
    return `block ${id}: ${state}${owner ? ` · ${owner}` : ''}${this.refs[id]! > 1 ? ` · shared by ${this.refs[id]}` : ''}`;
  }
}

function queueTable(rows: SequenceView[], testid: string): HTMLElement {
  return h(
    'table',
    { class: 'queue', 'data-testid': testid, 'data-count': rows.length },
    h('tr', {}, ...['request', 'state', 'prompt', 'computed', 'generated', 'cached', 'blocks'].map((c) => h('th', {}, c))),
    ...rows.map((r) =>
      h(
        'tr',
        {},
        h('td', { style: `color:hsl(${hueOf(r.id)} 65% 40%)` }, r.id),
        h('td', {}, r.state),
        h('td', {}, String(r.promptTokens)),
        h('td', {}, String(r.computedTokens)),
        h('td', {}, String(r.generatedTokens)),
        h('td', {}, String(r.cachedTokens)),
        h('td', {}, String(r.blocks)),
      ),
    ),
  );
}

/** Time series kept for the charts: one point per step over the last minute. */
class Series {
  t: number[] = [];
  prefill: number[] = [];
  decode: number[] = [];
  ms: number[] = [];
  tokS: number[] = [];
  kv: number[] = [];
  ttft: number[] = [];
  preemptions = 0;

  add(steps: StepRecord[], kvUsage: number, origin: number): void {
    for (const st of steps) {
      const t = (st.t - origin) / 1000;
      this.t.push(t);
      this.prefill.push(st.prefillTokens);
      this.decode.push(st.decodeTokens);
      this.ms.push(st.ms);
      this.kv.push(100 * kvUsage);
      this.ttft.push(...st.ttftMs);
      this.preemptions += st.preempted;
      // Output tokens per second over the last second of steps.
      let tokens = 0;
      let i = this.t.length - 1;
      while (i >= 0 && this.t[i]! > t - 1) tokens += this.decode[i--]!;
      this.tokS.push(tokens);
    }
    const cut = this.t.findIndex((x) => x >= (this.t.at(-1) ?? 0) - WINDOW_S);
    if (cut > 0) for (const k of ['t', 'prefill', 'decode', 'ms', 'tokS', 'kv'] as const) this[k] = this[k].slice(cut);
    if (this.ttft.length > 512) this.ttft = this.ttft.slice(-512);
  }
}

function chart(el: HTMLElement, title: string, series: { label: string; stroke: string }[]): uPlot {
  const opts: uPlot.Options = {
    title,
    width: el.clientWidth || 400,
    height: 140,
    scales: { x: { time: false } },
    axes: [{ label: 's' }, {}],
    series: [{ label: 't' }, ...series.map((s) => ({ label: s.label, stroke: s.stroke, width: 1.5, points: { show: false } }))],
    legend: { show: true },
  };
  return new uPlot(opts, [[], ...series.map(() => [])], el);
}

function kpi(id: string, value: string): void {
  byId(id).textContent = value;
}

async function main(): Promise<void> {
  const map = new BlockMap();
  const series = new Series();
  const charts = byId('charts');
  const mk = (title: string, s: { label: string; stroke: string }[]): uPlot => chart(charts.appendChild(h('div')), title, s);
  const cTokens = mk('tokens per step', [{ label: 'prefill', stroke: '#dd6b20' }, { label: 'decode', stroke: '#2b6cb0' }]);
  const cMs = mk('step time (ms)', [{ label: 'step', stroke: '#805ad5' }]);
  const cTok = mk('output tokens/s', [{ label: 'tok/s', stroke: '#2f855a' }]);
  const cKv = mk('KV cache used (%)', [{ label: 'KV', stroke: '#c53030' }]);
  const tip = byId('block-tip');
  const canvas = byId<HTMLCanvasElement>('blocks');
  canvas.addEventListener('mousemove', (e) => {
    const r = canvas.getBoundingClientRect();
    tip.textContent = map.describe(e.clientX - r.left, e.clientY - r.top) ?? '';
  });
  byId('key').addEventListener('click', () => {
    const key = window.prompt('API key for this server (kept for this browser tab only):', apiKey() ?? '');
    if (key !== null) {
      setApiKey(key.trim() || null);
      location.reload();
    }
  });

  // ?interval=ms (100 to 5000) sets how often snapshots come; 250 ms by default.
  const interval = Number(new URLSearchParams(location.search).get('interval') ?? 250) || 250;
  let origin: number | null = null;
  const onSnapshot = (data: unknown): void => {
    const s = data as Snapshot;
    origin ??= s.time;
    series.add(s.steps, s.stats.kvCacheUsage, origin);
    map.draw(s);
    byId('running').replaceChildren(queueTable(s.running, 'running'));
    byId('waiting').replaceChildren(queueTable(s.waiting, 'waiting'));
    const st = s.stats;
    kpi('k-running', String(s.running.length));
    kpi('k-waiting', String(s.waiting.length));
    kpi('k-kv', `${(100 * st.kvCacheUsage).toFixed(1)}%`);
    kpi('k-hit', st.prefixCacheQueries ? `${((100 * st.prefixCacheHits) / st.prefixCacheQueries).toFixed(1)}%` : '–');
    kpi('k-preempt', String(st.numPreemptions));
    // Output tokens over the second before this snapshot (0 once the engine is idle).
    const now = (s.time - origin) / 1000;
    kpi('k-toks', String(series.t.reduce((a, t, i) => (t > now - 1 ? a + series.decode[i]! : a), 0)));
    const itl = series.ms.filter((_, i) => series.decode[i]! > 0);
    kpi('k-ttft', `${percentile(series.ttft, 50).toFixed(1)} / ${percentile(series.ttft, 90).toFixed(1)}`);
    kpi('k-itl', `${percentile(itl, 50).toFixed(1)} / ${percentile(itl, 90).toFixed(1)}`);
    cTokens.setData([series.t, series.prefill, series.decode]);
    cMs.setData([series.t, series.ms]);
    cTok.setData([series.t, series.tokS]);
    cKv.setData([series.t, series.kv]);
    document.body.dataset.snapshots = String(Number(document.body.dataset.snapshots ?? 0) + 1);
  };
  // Reconnect after a dropped stream (server restart); stop on a 401 until a key is given.
  for (;;) {
    try {
      showError(null);
      await snapshots(interval, onSnapshot, new AbortController().signal);
      showError('The engine stream ended; reconnecting…');
    } catch (e) {
      showError(e instanceof ApiError ? e.message : `Lost the engine stream: ${(e as Error).message}`);
      if (e instanceof ApiError && e.status === 401) {
        document.body.dataset.unauthorized = 'true';
        return;
      }
    }
    await new Promise((r) => setTimeout(r, 2000));
  }
}

void main();
