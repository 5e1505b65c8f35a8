/**
 * The draft-model proposer: a smaller model with the same vocabulary drafts k tokens greedily.
 *
 * It keeps its own KV cache layers over the target's block ids and slots (same block count and size),
 * so it needs no block manager of its own: every block a sequence holds has room for the draft's K/V
 * too. Each step it first mirrors what the target computes (prefill chunks, decodes) and catches up on
 * the tokens accepted since it last ran (`seq.numDraftComputed`), taking the logits of each
 * speculating sequence's last token for draft 0; then k − 1 one-row steps feed each draft back in.
 * K/V it wrote for drafts the target rejected sits past `numDraftComputed` and is simply overwritten
 * later. Draft K/V only steers proposals: verification keeps the output exact whatever it holds.
 */
import type { AttentionMeta, Backend, KVCacheLayer } from '../../kernels/backend.js';
import { loadCheckpoint } from '../../checkpoint/checkpoint.js';
import { resolveModel } from '../../hub/hub.js';
import type { DType } from '../../kernels/backend.js';
import type { ModelConfig } from '../../model/config.js';
import { createModel, type CausalLM } from '../../model/model.js';
import type { EngineConfig } from '../config.js';
import type { Sequence } from '../request.js';
import type { SchedulerOutput } from '../scheduler.js';

/** Loads the draft checkpoint (directory or hub name) onto the target's backend. */
export async function loadDraftModel(nameOrDir: string, backend: Backend, dtype: 'auto' | DType = 'auto'): Promise<CausalLM> {
  const dir = await resolveModel(nameOrDir);
  const ckpt = loadCheckpoint(dir);
  return createModel(ckpt, backend, { dtype: dtype === 'auto' ? ckpt.dtype : dtype });
}

/** Throws unless `draft` can draft for `target` over `maxModelLen` positions. */
export function checkDraftModel(target: ModelConfig, draft: ModelConfig, maxModelLen: number): void {
  if (draft.vocabSize !== target.vocabSize) {
    throw new Error(`speculative config model: the draft model's vocabulary (${draft.vocabSize} tokens) differs from the target's (${target.vocabSize}); they must share a tokenizer`);
  }
  if (draft.nPositions < maxModelLen) {
    throw new Error(`speculative config model: the draft model's context (${draft.nPositions}) is shorter than max_model_len (${maxModelLen})`);
  }
}

interface Rows {
  seq: Sequence;
  from: number;
  to: number;
  /** Whether the last row's logits pick a draft token. */
  logits: boolean;
}

export class DraftModelProposer {
  readonly kvCache: KVCacheLayer[];
  private readonly maxBlocksPerSeq: number;

  constructor(
    readonly model: CausalLM,
    private readonly config: EngineConfig,
  ) {
    this.kvCache = model.createKVCache(config.numBlocks, config.blockSize, config.kvCacheDtype);
    this.maxBlocksPerSeq = Math.ceil(config.maxModelLen / config.blockSize);
  }

  /** Fills `seq.specTokens` with `numSpec` greedy drafts for every speculating entry of the step. */
  propose(out: SchedulerOutput): void {
    // Mirror and catch up; draft 0 comes from the last known token's logits.
    const first: Rows[] = [];
    for (const { seq, start, numTokens, numSpec } of out.scheduled) {
      const to = numSpec > 0 ? seq.numTokens : start + numTokens;
      const from = Math.min(seq.numDraftComputed, start);
      if (from < to) first.push({ seq, from, to, logits: numSpec > 0 });
      seq.numDraftComputed = to;
    }
    const spec = out.scheduled.filter((e) => e.numSpec > 0);
    if (first.length > 0) {
      const picked = this.run(first);
      spec.forEach((e, i) => (e.seq.specTokens = [picked[i]!]));
    }
    // Feed draft i − 1 back in, one row per sequence that still needs drafts.
    for (let i = 1; ; i++) {
      const need = spec.filter((e) => e.numSpec > i);
      if (need.length === 0) break;
      const rows = need.map(({ seq }) => ({ seq, from: seq.numTokens + i - 1, to: seq.numTokens + i, logits: true }));
      const picked = this.run(rows);
      need.forEach((e, j) => e.seq.specTokens.push(picked[j]!));
    }
  }

  /** One forward pass over the given rows; returns the argmax of each row group that wants logits. */
  private run(groups: readonly Rows[]): number[] {
    const { blockSize } = this.config;
    const mb = this.maxBlocksPerSeq;
    const total = groups.reduce((a, g) => a + g.to - g.from, 0);
    const tokens = new Int32Array(total);
    const positions = new Int32Array(total);
    const slotMapping = new Int32Array(total);
    const queryStart = new Int32Array(groups.length + 1);
    const seqLens = new Int32Array(groups.length);
    const blockTables = new Int32Array(groups.length * mb);
    const logitRows: number[] = [];
    let t = 0;
    groups.forEach(({ seq, from, to, logits }, s) => {
      queryStart[s] = t;
      seqLens[s] = to;
      const table = seq.blockTable;
      for (let j = 0; j < table.length; j++) blockTables[s * mb + j] = table[j]!;
      for (let p = from; p < to; p++, t++) {
        tokens[t] = seq.tokenAt(p);
        positions[t] = p;
        slotMapping[t] = table[Math.floor(p / blockSize)]! * blockSize + (p % blockSize);
      }
      if (logits) logitRows.push(t - 1);
    });
    queryStart[groups.length] = t;
    const attn: AttentionMeta = { numSeqs: groups.length, queryStart, seqLens, blockTables, maxBlocksPerSeq: mb, slotMapping, blockSize };
    const logits = this.model.forward({ tokens, positions, attn, logitRows: Int32Array.from(logitRows) }, this.kvCache);
    const vocab = this.model.config.vocabSize;
    return logitRows.map((_, i) => this.model.backend.argmax(logits.subarray(i * vocab, (i + 1) * vocab), vocab));
  }
}
