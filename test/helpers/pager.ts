import type { ForwardBatch } from '../../src/model/forward-batch.js';

/**
 * Builds ragged batches over a paged cache the way a scheduler would, but with each sequence's
 * blocks drawn from a shuffled pool so no block table is contiguous.
 */
export class Pager {
  private readonly free: number[];
  readonly tables: number[][] = [];
  readonly lengths: number[] = [];

  constructor(numBlocks: number, readonly blockSize: number, seed: number) {
    this.free = Array.from({ length: numBlocks }, (_, i) => i);
    let s = seed;
    for (let i = this.free.length - 1; i > 0; i--) {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      const j = s % (i + 1);
      [this.free[i], this.free[j]] = [this.free[j], this.free[i]];
    }
  }

  addSequence(): number {
    this.tables.push([]);
    this.lengths.push(0);
    return this.tables.length - 1;
  }

  /** One step: `parts[i]` appends `tokens` to sequence `seq`; `wantRow(seq, pos)` picks logit rows. */
  batch(parts: { seq: number; tokens: readonly number[] }[], wantRow: (seq: number, pos: number) => boolean): { batch: ForwardBatch; rows: { seq: number; pos: number }[] } {
    const tokens: number[] = [], positions: number[] = [], slots: number[] = [], logitRows: number[] = [];
    const rows: { seq: number; pos: number }[] = [];
    const queryStart = [0];
    for (const { seq, tokens: toks } of parts) {
      const table = this.tables[seq];
      toks.forEach((tok, i) => {
        const pos = this.lengths[seq] + i;
        if (pos % this.blockSize === 0) table.push(this.free.pop()!);
        if (wantRow(seq, pos)) {
          logitRows.push(tokens.length);
          rows.push({ seq, pos });
        }
        tokens.push(tok);
        positions.push(pos);
        slots.push(table[Math.floor(pos / this.blockSize)] * this.blockSize + (pos % this.blockSize));
      });
      this.lengths[seq] += toks.length;
      queryStart.push(tokens.length);
    }
    const maxBlocksPerSeq = Math.max(...parts.map((p) => this.tables[p.seq].length));
    const blockTables = new Int32Array(parts.length * maxBlocksPerSeq).fill(-1);
    parts.forEach((p, i) => blockTables.set(this.tables[p.seq], i * maxBlocksPerSeq));
    const batch: ForwardBatch = {
      tokens: Int32Array.from(tokens),
      positions: Int32Array.from(positions),
      logitRows: Int32Array.from(logitRows),
      attn: {
        numSeqs: parts.length,
        queryStart: Int32Array.from(queryStart),
        seqLens: Int32Array.from(parts, (p) => this.lengths[p.seq]),
        blockTables,
        maxBlocksPerSeq,
        slotMapping: Int32Array.from(slots),
        blockSize: this.blockSize,
      },
    };
    return { batch, rows };
  }
}
