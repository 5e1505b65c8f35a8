/** A few DOM helpers so the pages read as plain TypeScript, without a UI framework. */

type Attrs = Record<string, string | number | boolean | ((e: Event) => void) | undefined>;

/** Creates an element: `h('button', { class: 'x', onclick: f }, 'Send')`. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: (Node | string | null | undefined)[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (typeof v === 'function') el.addEventListener(k.replace(/^on/, ''), v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  for (const c of children) if (c !== null && c !== undefined) el.append(c);
  return el;
}

export function byId<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} is missing from the page`);
  return el as T;
}

/** Shows `message` in the page's error banner (or hides it when null). */
export function showError(message: string | null): void {
  const el = byId('error');
  el.textContent = message ?? '';
  el.hidden = message === null;
}

/** Shows a token's text with its whitespace visible. */
export function visible(text: string): string {
  return text.replace(/ /g, '␣').replace(/\n/g, '↵').replace(/\t/g, '⇥') || '∅';
}

/** A probability as a colour from red (unlikely) through amber to green (likely). */
export function probColor(p: number): string {
  const hue = Math.round(120 * Math.max(0, Math.min(1, p)));
  return `hsl(${hue} 70% 85%)`;
}
