/** `tinyvllm tokenize`, loaded only when the command runs. */
import type { CommonOpts } from '../options.js';
import { loadTokenizer } from '../load.js';
import { table } from '../tables.js';
import { fail, pc, printJson, quoted } from '../ui.js';

export async function tokenize(text: string, o: CommonOpts): Promise<void> {
  try {
    const tok = await loadTokenizer(o);
    const ids = tok.encode(text);
    const rows = ids.map((id, i) => ({ index: i, id, token: tok.idToToken(id), text: tok.decode([id]) }));
    if (o.json) {
      printJson({ model: o.model, text, ids, count: ids.length, tokens: rows });
      return;
    }
    console.log(table(['#', 'id', 'token', 'text'], rows.map((r) => [r.index, r.id, pc.yellow(r.token), quoted(r.text)]), ['right', 'right', 'left', 'left']));
    console.log(pc.dim(`${ids.length} token${ids.length === 1 ? '' : 's'}, ${[...text].length} characters · Ġ marks a leading space, Ċ a newline`));
  } catch (err) {
    fail(err, o.json);
  }
}
