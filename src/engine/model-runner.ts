/**
 * Turns a scheduler step into one flattened ragged batch, runs the model, and samples.
 *
 * All scheduled tokens of all sequences are stacked into `[T]` rows in schedule order; the
 * attention metadata says which rows belong to which sequence and where each row's K/V goes in the
 * paged cache. Logits are computed only for the rows that need them: the last row of every sequence
 * that samples this step (first, in schedule order, so they line up with the sampler's rows), then the
 * prompt rows whose logprobs were asked for. Index arrays are allocated once at their maximum size and
 * reused through subarray views.
 */
import type { AttentionMeta, KVCacheLayer } from '../kernels/backend.js';
import type { CausalLM } from '../model/model.js';
import type { EngineConfig } from './config.js';
import type { TokenLogprob } from './outputs.js';
import type { Sequence } from './request.js';
import { Sampler, type SampleRequest, type SampleResult } from './sampler.js';
import type { SchedulerOutput } from './scheduler.js';
import { verifyDrafts } from './spec/rejection.js';

/** The engine's sizing, plus the token that ends a sequence. */
export interface ModelRunnerConfig extends EngineConfig {
  readonly eosTokenId: number;
}

export interface PromptLogprobChunk {
  readonly seq: Sequence;
  /** Prompt position of the first entry (entries score prompt tokens `first`, `first + 1`, ...). */
  readonly first: number;
  readonly entries: readonly TokenLogprob[];
}

/** What a step of the model produced (vLLM's ModelRunnerOutput). */
export interface ModelRunnerOutput {
  /** Per scheduled sequence, in schedule order: its sampled token, or null if it did not sample. */
  readonly samples: readonly (SampleResult | null)[];
  /** Per scheduled sequence that verified drafts: the tokens to append (accepted drafts, then the target's). */
  readonly specRuns?: readonly (readonly SampleResult[] | null)[];
  readonly promptLogprobs: readonly PromptLogprobChunk[];
}

export class ModelRunner {
  readonly kvCache: KVCacheLayer[];
  readonly maxBlocksPerSeq: number;
  private readonly tokens: Int32Array;
  private readonly positions: Int32Array;
  private readonly slotMapping: Int32Array;
  private readonly logitRows: Int32Array;
  private readonly queryStart: Int32Array;
  private readonly seqLens: Int32Array;
  private readonly blockTables: Int32Array;
  private readonly sampler = new Sampler();

  constructor(
    readonly model: CausalLM,
    readonly config: ModelRunnerConfig,
    private readonly decodeToken: (id: number) => string,
  ) {
    this.kvCache = model.createKVCache(config.numBlocks, config.blockSize, config.kvCacheDtype);
    this.maxBlocksPerSeq = Math.ceil(config.maxModelLen / config.blockSize);
    const t = config.maxNumBatchedTokens;
    // A step may schedule up to maxNumSeqs running sequences plus any it preempts and readmits, but
    // never more sequences than tokens.
    const s = Math.min(config.maxNumSeqs, t);
    this.tokens = new Int32Array(t);
    this.positions = new Int32Array(t);
    this.slotMapping = new Int32Array(t);
    this.logitRows = new Int32Array(t);
    this.queryStart = new Int32Array(s + 1);
    this.seqLens = new Int32Array(s);
    this.blockTables = new Int32Array(s * this.maxBlocksPerSeq);
  }

  execute(out: SchedulerOutput): ModelRunnerOutput {
    const { blockSize } = this.config;
    const mb = this.maxBlocksPerSeq;
    const { tokens, positions, slotMapping, logitRows, queryStart, seqLens, blockTables } = this;
    const sampling: SampleRequest[] = [];
    const prompt: { seq: Sequence; first: number; rowStart: number; count: number }[] = [];
    let t = 0;
    let r = 0;

    out.scheduled.forEach(({ seq, start, numTokens, sample, numSpec }, s) => {
      queryStart[s] = t;
      seqLens[s] = start + numTokens;
      const table = seq.blockTable;
      for (let j = 0; j < table.length; j++) blockTables[s * mb + j] = table[j]!;
      for (let p = start; p < start + numTokens; p++, t++) {
        tokens[t] = seq.tokenAt(p);
        positions[t] = p;
        slotMapping[t] = table[Math.floor(p / blockSize)]! * blockSize + (p % blockSize);
      }
      if (sample && numSpec === 0) {
        logitRows[r++] = t - 1;
        sampling.push(this.sampleRequest(seq));
      }
    });
    queryStart[out.scheduled.length] = t;

    // Verifications: every row of the last token and its drafts.
    const verify: { s: number; rowStart: number }[] = [];
    out.scheduled.forEach(({ numSpec }, s) => {
      if (numSpec === 0) return;
      verify.push({ s, rowStart: r });
      for (let j = 0; j <= numSpec; j++) logitRows[r++] = queryStart[s]! + j;
    });

    // Prompt logprobs: row at position p scores prompt token p + 1; each position is scored once.
    out.scheduled.forEach(({ seq, start, numTokens }, s) => {
      const req = seq.request;
      if (seq.index !== 0 || req.params.promptLogprobs === null) return;
      const first = Math.max(start + 1, req.promptLogprobsDone + 1);
      const last = Math.min(start + numTokens, req.promptTokenIds.length - 1); // inclusive target
      if (first > last) return;
      prompt.push({ seq, first, rowStart: r, count: last - first + 1 });
      for (let target = first; target <= last; target++) logitRows[r++] = queryStart[s]! + (target - 1 - start);
    });

    const attn: AttentionMeta = {
      numSeqs: out.scheduled.length,
      queryStart,
      seqLens,
      blockTables,
      maxBlocksPerSeq: mb,
      slotMapping: slotMapping.subarray(0, t),
      blockSize,
    };
    const logits = this.model.forward(
      { tokens: tokens.subarray(0, t), positions: positions.subarray(0, t), attn, logitRows: logitRows.subarray(0, r) },
      this.kvCache,
    );

    const vocab = this.model.config.vocabSize;
    const sampled = this.sampler.sampleRows(logits, vocab, sampling, this.decodeToken, this.model.backend);
    let k = 0;
    const samples: (SampleResult | null)[] = out.scheduled.map((e) => (e.sample && e.numSpec === 0 ? sampled[k++]! : null));
    let specRuns: (SampleResult[] | null)[] | undefined;
    for (const { s, rowStart } of verify) {
      const { seq, numSpec } = out.scheduled[s]!;
      const rows = logits.subarray(rowStart * vocab, (rowStart + 1 + numSpec) * vocab);
      const run = verifyDrafts(this.sampler, this.model.backend, rows, vocab, this.sampleRequest(seq), seq.specTokens.slice(0, numSpec), this.decodeToken);
      (specRuns ??= out.scheduled.map(() => null))[s] = run;
      samples[s] = run[0]!;
    }
    const chunks = prompt.map(({ seq, first, rowStart, count }) => {
      const targets = seq.request.promptTokenIds.slice(first, first + count);
      const rows = logits.subarray(rowStart * vocab, (rowStart + count) * vocab);
      return { seq, first, entries: this.sampler.promptLogprobs(rows, vocab, targets, seq.request.params.promptLogprobs!, this.decodeToken) };
    });
    return { samples, specRuns, promptLogprobs: chunks };
  }

  private sampleRequest(seq: Sequence): SampleRequest {
    const req = seq.request;
    return { params: req.params, rng: seq.rng, promptTokenIds: req.promptTokenIds, outputTokenIds: seq.outputTokenIds, eosTokenId: this.config.eosTokenId };
  }
}
