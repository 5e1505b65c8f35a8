/**
 * The playground: chat or complete with the served model over its own OpenAI endpoints, streamed
 * token by token, with the sampling controls, a stop button, each output token coloured by its
 * probability (alternatives on click), and the prompt's tokenization.
 */
import { ApiError, getJson, postJson, setApiKey, stream, apiKey } from './api.js';
import { byId, h, probColor, showError, visible } from './dom.js';
import './style.css';

interface UiConfig {
  model: string;
  defaults: Record<string, number>;
}

/** One output token with its probability and the most likely alternatives. */
export interface TokenInfo {
  text: string;
  logprob: number;
  top: { token: string; logprob: number }[];
}

interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

const CONTROLS: { name: string; label: string; step: string; min?: number; max?: number }[] = [
  { name: 'temperature', label: 'temperature', step: '0.05', min: 0, max: 2 },
  { name: 'top_p', label: 'top-p', step: '0.01', min: 0, max: 1 },
  { name: 'top_k', label: 'top-k', step: '1', min: -1 },
  { name: 'min_p', label: 'min-p', step: '0.01', min: 0, max: 1 },
  { name: 'max_tokens', label: 'max tokens', step: '1', min: 1 },
  { name: 'presence_penalty', label: 'presence penalty', step: '0.1', min: -2, max: 2 },
  { name: 'frequency_penalty', label: 'frequency penalty', step: '0.1', min: -2, max: 2 },
  { name: 'repetition_penalty', label: 'repetition penalty', step: '0.05', min: 0.01 },
  { name: 'n', label: 'n', step: '1', min: 1, max: 8 },
];

let config: UiConfig;
const history: ChatMessage[] = [];
let running: AbortController | null = null;

const mode = (): 'chat' | 'completion' => (byId<HTMLInputElement>('mode-chat').checked ? 'chat' : 'completion');

/** The request fields from the controls; empty fields are left to the server's defaults. */
function samplingFields(): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const c of CONTROLS) {
    const v = byId<HTMLInputElement>(`ctl-${c.name}`).value.trim();
    if (v !== '') out[c.name] = Number(v);
  }
  const seed = byId<HTMLInputElement>('ctl-seed').value.trim();
  if (seed !== '') out.seed = Number(seed);
  const stop = byId<HTMLTextAreaElement>('ctl-stop').value.split('\n').filter((s) => s !== '');
  if (stop.length) out.stop = stop;
  return out;
}

function buildControls(): void {
  const box = byId('controls');
  for (const c of CONTROLS) {
    const def = config.defaults[c.name];
    box.append(
      h('label', { for: `ctl-${c.name}` }, c.label),
      h('input', { id: `ctl-${c.name}`, type: 'number', step: c.step, min: c.min, max: c.max, placeholder: def === undefined ? '' : String(def), title: `server default: ${def ?? 'unset'}` }),
    );
  }
  box.append(
    h('label', { for: 'ctl-seed' }, 'seed'),
    h('input', { id: 'ctl-seed', type: 'number', step: '1', placeholder: 'random' }),
    h('label', { for: 'ctl-stop' }, 'stop strings (one per line)'),
    h('textarea', { id: 'ctl-stop', rows: 2 }),
    h('label', { for: 'ctl-logprobs' }, 'alternatives shown'),
    h('input', { id: 'ctl-logprobs', type: 'number', min: 0, max: 20, step: '1', value: '5' }),
  );
}

/** One choice's output area: the text as token chips, and a details box for the clicked token. */
class ChoiceView {
  readonly el: HTMLElement;
  private readonly chips: HTMLElement;
  text = '';
  readonly tokens: TokenInfo[] = [];

  constructor(readonly index: number) {
    this.chips = h('div', { class: 'chips', 'data-testid': `choice-${index}` });
    this.el = h('div', { class: 'choice' }, h('div', { class: 'choice-head' }, `choice ${index}`), this.chips);
  }

  add(t: TokenInfo): void {
    this.tokens.push(t);
    this.text += t.text;
    const p = Math.exp(t.logprob);
    const chip = h('span', { class: 'chip', 'data-prob': p.toFixed(6), 'data-testid': 'token', title: `${(100 * p).toFixed(1)}%`, style: `background:${probColor(p)}` }, t.text);
    chip.addEventListener('click', () => showAlternatives(chip, t));
    this.chips.append(chip);
  }

  /** Text that came without logprobs (e.g. a stop string's held-back part). */
  addText(text: string): void {
    if (!text) return;
    this.text += text;
    this.chips.append(h('span', { class: 'chip plain' }, text));
  }

  finish(reason: string | null): void {
    this.el.append(h('div', { class: 'finish', 'data-testid': `finish-${this.index}` }, `finish: ${reason ?? 'unknown'}`));
  }
}

function showAlternatives(anchor: HTMLElement, t: TokenInfo): void {
  const box = byId('alternatives');
  box.replaceChildren(
    h('div', { class: 'alt-head' }, `“${visible(t.text)}”  ${(100 * Math.exp(t.logprob)).toFixed(2)}%`),
    h(
      'table',
      {},
      ...t.top.map((a) =>
        h('tr', { 'data-testid': 'alternative' }, h('td', { class: 'mono' }, visible(a.token)), h('td', { class: 'num' }, `${(100 * Math.exp(a.logprob)).toFixed(2)}%`)),
      ),
    ),
  );
  box.hidden = false;
  const r = anchor.getBoundingClientRect();
  box.style.left = `${r.left + window.scrollX}px`;
  box.style.top = `${r.bottom + window.scrollY + 4}px`;
}

interface ChatChunk {
  choices: { index: number; delta: { content?: string }; finish_reason: string | null; logprobs?: { content: { token: string; logprob: number; top_logprobs: { token: string; logprob: number }[] }[] } | null }[];
}
interface CompletionChunk {
  choices: { index: number; text: string; finish_reason: string | null; logprobs?: { tokens: string[]; token_logprobs: number[]; top_logprobs: Record<string, number>[] } | null }[];
}

/** Routes one streamed chunk's tokens into the choice views. */
function onChunk(kind: 'chat' | 'completion', data: unknown, views: ChoiceView[]): void {
  for (const c of (data as ChatChunk | CompletionChunk).choices) {
    const view = views[c.index]!;
    if (kind === 'chat') {
      const cc = c as ChatChunk['choices'][number];
      const lp = cc.logprobs?.content ?? [];
      for (const t of lp) view.add({ text: t.token, logprob: t.logprob, top: t.top_logprobs });
      const got = lp.map((t) => t.token).join('');
      const content = cc.delta.content ?? '';
      if (content.length > got.length) view.addText(content.slice(got.length));
    } else {
      const cc = c as CompletionChunk['choices'][number];
      const lp = cc.logprobs;
      if (lp) {
        lp.tokens.forEach((tok, i) => {
          const top = Object.entries(lp.top_logprobs[i] ?? {}).map(([token, logprob]) => ({ token, logprob })).sort((a, b) => b.logprob - a.logprob);
          view.add({ text: tok, logprob: lp.token_logprobs[i]!, top });
        });
        const got = lp.tokens.join('');
        if (cc.text.length > got.length) view.addText(cc.text.slice(got.length));
      } else view.addText(cc.text);
    }
    if (c.finish_reason) view.finish(c.finish_reason);
  }
}

function setRunning(on: boolean): void {
  byId<HTMLButtonElement>('send').disabled = on;
  byId<HTMLButtonElement>('stop').disabled = !on;
  byId('status').textContent = on ? 'generating…' : '';
}

async function send(): Promise<void> {
  showError(null);
  const kind = mode();
  const input = byId<HTMLTextAreaElement>('input');
  const fields = samplingFields();
  const k = Number(byId<HTMLInputElement>('ctl-logprobs').value || 0);
  const n = Number(fields.n ?? 1);
  let body: Record<string, unknown>;
  if (kind === 'chat') {
    const system = byId<HTMLTextAreaElement>('system').value.trim();
    if (input.value.trim() === '') return;
    history.push({ role: 'user', content: input.value });
    body = { messages: [...(system ? [{ role: 'system', content: system }] : []), ...history], logprobs: true, top_logprobs: k, ...fields };
  } else {
    body = { prompt: input.value, logprobs: k, ...fields };
  }
  body.model = config.model;
  const out = byId('output');
  if (kind === 'chat') renderTranscript();
  else out.replaceChildren();
  const views = Array.from({ length: n }, (_, i) => new ChoiceView(i));
  const holder = h('div', { class: 'choices', 'data-testid': 'reply' }, ...views.map((v) => v.el));
  out.append(holder);
  running = new AbortController();
  setRunning(true);
  try {
    await stream(kind === 'chat' ? '/v1/chat/completions' : '/v1/completions', body, (d) => onChunk(kind, d, views), running.signal);
    if (kind === 'chat') history.push({ role: 'assistant', content: views[0]!.text });
  } catch (e) {
    if ((e as Error).name === 'AbortError') {
      for (const v of views) v.finish('stopped');
      if (kind === 'chat') history.push({ role: 'assistant', content: views[0]!.text });
    } else {
      if (kind === 'chat') history.pop();
      showError(e instanceof ApiError ? e.message : `Unexpected error: ${(e as Error).message}`);
      if (e instanceof ApiError && e.status === 401) askKey();
    }
  } finally {
    running = null;
    setRunning(false);
  }
  if (kind === 'chat') input.value = '';
}

function renderTranscript(): void {
  byId('output').replaceChildren(...history.map((m) => h('div', { class: `msg ${m.role}` }, h('b', {}, `${m.role}: `), m.content)));
}

/** The prompt's tokens (what the model will see), as chips with ids. */
async function tokenize(): Promise<void> {
  showError(null);
  const kind = mode();
  const input = byId<HTMLTextAreaElement>('input').value;
  const system = byId<HTMLTextAreaElement>('system').value.trim();
  const body =
    kind === 'chat'
      ? { model: config.model, messages: [...(system ? [{ role: 'system', content: system }] : []), ...history, { role: 'user', content: input }], return_token_strs: true }
      : { model: config.model, prompt: input, return_token_strs: true };
  try {
    const r = await postJson<{ tokens: number[]; token_strs: string[]; count: number; max_model_len: number }>('/tokenize', body);
    byId('tokens').replaceChildren(
      h('div', { class: 'tok-head' }, `${r.count} tokens of ${r.max_model_len}`),
      ...r.tokens.map((id, i) => h('span', { class: 'chip tok', 'data-testid': 'prompt-token', title: `id ${id}` }, h('span', {}, visible(r.token_strs[i]!)), h('sub', {}, String(id)))),
    );
  } catch (e) {
    showError((e as Error).message);
  }
}

function askKey(): void {
  const key = window.prompt('API key for this server (kept for this browser tab only):', apiKey() ?? '');
  if (key !== null) setApiKey(key.trim() || null);
}

async function main(): Promise<void> {
  try {
    config = await getJson<UiConfig>('/ui-config');
  } catch (e) {
    showError((e as Error).message);
    return;
  }
  byId('model').textContent = config.model;
  buildControls();
  byId('send').addEventListener('click', () => void send());
  byId('stop').addEventListener('click', () => running?.abort());
  byId('tokenize').addEventListener('click', () => void tokenize());
  byId('key').addEventListener('click', askKey);
  byId('clear').addEventListener('click', () => {
    history.length = 0;
    byId('output').replaceChildren();
  });
  for (const id of ['mode-chat', 'mode-completion']) byId(id).addEventListener('change', () => {
    byId('system-row').hidden = mode() !== 'chat';
    history.length = 0;
    byId('output').replaceChildren();
  });
  byId('input').addEventListener('keydown', (e) => {
    if ((e as KeyboardEvent).key === 'Enter' && ((e as KeyboardEvent).ctrlKey || (e as KeyboardEvent).metaKey)) void send();
  });
  document.addEventListener('click', (e) => {
    if (!(e.target as HTMLElement).closest('.chip, #alternatives')) byId('alternatives').hidden = true;
  });
  setRunning(false);
  document.body.dataset.ready = 'true';
}

void main();
