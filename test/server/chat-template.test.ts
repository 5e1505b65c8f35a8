/** Chat templates from tokenizer_config.json rendered like transformers' apply_chat_template. */
import { describe, expect, it } from 'vitest';
import { jinjaFormat, resolveChatFormat, type ChatMessage } from '../../src/server/chat-template.js';
import { oracle, ours, readJson, type HfModel } from '../tokenizer/hf-helpers.js';

const conversations: ChatMessage[][] = [
  [{ role: 'user', content: 'Hi' }],
  [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: '  spaced  ' }],
  [{ role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }, { role: 'user', content: 'c <|eot_id|> <|im_end|>' }],
  [{ role: 'system', content: 'S' }, { role: 'user', content: 'q' }, { role: 'assistant', content: '<think>\nhm\n</think>\n\nYes' }, { role: 'user', content: '日本語 😀' }],
  [{ role: 'user', content: 'q' }, { role: 'assistant', content: '<think>\nr\n</think>\n\nA' }],
];

/**
 * Qwen3's template uses slicing and string methods that transformers.js's bundled Jinja (0.2) cannot
 * parse, so its expected text is written out by hand from the template: ChatML turns, and reasoning
 * kept only in an assistant turn after the last user message.
 */
const turn = (role: string, content: string): string => `<|im_start|>${role}\n${content}<|im_end|>\n`;
const QWEN3_TEXT: string[] = [
  turn('user', 'Hi'),
  turn('system', 'Be brief.') + turn('user', '  spaced  '),
  turn('user', 'a') + turn('assistant', 'b') + turn('user', 'c <|eot_id|> <|im_end|>'),
  turn('system', 'S') + turn('user', 'q') + turn('assistant', 'Yes') + turn('user', '日本語 😀'),
  turn('user', 'q') + turn('assistant', '<think>\nr\n</think>\n\nA'),
];

for (const model of ['llama3', 'qwen3'] as const satisfies readonly HfModel[]) {
  describe(`${model} chat template`, () => {
    const tok = ours(model);
    const ref = oracle(readJson(model, 'tokenizer.json'), readJson(model, 'tokenizer_config.json'));
    const format = resolveChatFormat(undefined, tok);

    it('renders text and ids like apply_chat_template, with and without the generation prompt', () => {
      expect(format.stop).toEqual([]);
      for (const messages of conversations) {
        for (const add of [true, false]) {
          const text = format.render(messages, add);
          const ids = tok.encode(text, { addSpecialTokens: format.addSpecialTokens });
          if (model === 'llama3') {
            expect(text).toBe(ref.apply_chat_template(messages, { add_generation_prompt: add, tokenize: false }));
            expect(ids).toEqual(ref.apply_chat_template(messages, { add_generation_prompt: add, tokenize: true, return_tensor: false }));
          } else {
            const want = QWEN3_TEXT[conversations.indexOf(messages)] + (add ? '<|im_start|>assistant\n' : '');
            expect(text).toBe(want);
            expect(ids).toEqual(ref.encode(want, { add_special_tokens: false }));
          }
        }
      }
    });
  });
}

describe('template errors', () => {
  it('raise_exception and unparsable templates are 400s naming messages, never crashes', () => {
    const tok = { bosToken: '<s>', eosToken: '</s>' };
    const raising = jinjaFormat({ jinja: "{% if messages[0]['role'] != 'user' %}{{ raise_exception('Conversation must start with user') }}{% endif %}ok", source: 't' }, tok);
    expect(raising.render([{ role: 'user', content: 'x' }], true)).toBe('ok');
    expect(() => raising.render([{ role: 'system', content: 'x' }], true)).toThrow(/Conversation must start with user/);
    const broken = jinjaFormat({ jinja: '{% for m in messages %}', source: 'tokenizer_config.json chat_template' }, tok);
    expect(() => broken.render([], true)).toThrow(/tokenizer_config\.json chat_template/);
  });
});
