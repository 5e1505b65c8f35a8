/** The tensors a Llama-family checkpoint holds: Hugging Face names, nn.Linear weights `[out, in]`. */
import type { LlamaConfig } from './llama-config.js';

/** Every weight tensor of this config, with its shape, in checkpoint order. */
export function llamaTensorShapes(c: LlamaConfig): Map<string, number[]> {
  const { vocabSize: V, nEmbd: C, nInner: I, headDim: D } = c;
  const q = c.nHead * D;
  const kv = c.nKvHead * D;
  const shapes = new Map<string, number[]>([['model.embed_tokens.weight', [V, C]]]);
  for (let l = 0; l < c.nLayer; l++) {
    const p = `model.layers.${l}`;
    shapes.set(`${p}.input_layernorm.weight`, [C]);
    for (const [name, out] of [['q_proj', q], ['k_proj', kv], ['v_proj', kv]] as const) {
      shapes.set(`${p}.self_attn.${name}.weight`, [out, C]);
      if (c.qkvBias) shapes.set(`${p}.self_attn.${name}.bias`, [out]);
    }
    if (c.qkNorm) shapes.set(`${p}.self_attn.q_norm.weight`, [D]).set(`${p}.self_attn.k_norm.weight`, [D]);
    shapes.set(`${p}.self_attn.o_proj.weight`, [C, q]);
    if (c.oBias) shapes.set(`${p}.self_attn.o_proj.bias`, [C]);
    shapes.set(`${p}.post_attention_layernorm.weight`, [C]);
    shapes.set(`${p}.mlp.gate_proj.weight`, [I, C]).set(`${p}.mlp.up_proj.weight`, [I, C]).set(`${p}.mlp.down_proj.weight`, [C, I]);
    if (c.mlpBias) shapes.set(`${p}.mlp.gate_proj.bias`, [I]).set(`${p}.mlp.up_proj.bias`, [I]).set(`${p}.mlp.down_proj.bias`, [C]);
  }
  shapes.set('model.norm.weight', [C]);
  if (!c.tieWordEmbeddings) shapes.set('lm_head.weight', [V, C]);
  return shapes;
}

/**
 * Stored tensors that are not weights: rotary buffers some exports keep, and an `lm_head.weight`
 * saved next to tied embeddings (Hugging Face reads the head from embed_tokens then, as we do).
 */
export function isLlamaNonWeight(c: LlamaConfig, name: string): boolean {
  if (/^model\.layers\.\d+\.self_attn\.rotary_emb\.inv_freq$/.test(name)) return true;
  return c.tieWordEmbeddings && name === 'lm_head.weight';
}
