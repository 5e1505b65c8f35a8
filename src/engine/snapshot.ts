/**
 * What the engine looks like right now, for the live engine view: the KV block map, the running and
 * waiting sequences, and the steps since the last look. Built on demand (a few times a second at
 * most, only while someone watches), in O(blocks + sequences); the engine loop only appends one
 * small record per step to `StepLog`.
 */
import type { BlockPool } from './block-pool.js';
import type { EngineStats } from './outputs.js';
import type { Sequence } from './request.js';

/** One engine step: tokens scheduled by kind, and how long it took. */
export interface StepRecord {
  /** performance.now() at the end of the step, ms. */
  readonly t: number;
  readonly prefillTokens: number;
  readonly decodeTokens: number;
  readonly ms: number;
  readonly preempted: number;
  /** Time to first token (ms from arrival) of each request that got its first token this step. */
  readonly ttftMs: readonly number[];
}

/** A bounded ring of the latest steps; `since(seq)` returns the ones a viewer has not seen. */
export class StepLog {
  private readonly ring: StepRecord[] = [];
  private next = 0;
  constructor(private readonly capacity = 512) {}

  push(r: StepRecord): void {
    if (this.ring.length < this.capacity) this.ring.push(r);
    else this.ring[this.next % this.capacity] = r;
    this.next++;
  }

  /** Records with sequence number >= `from` still in the ring, and the next sequence number. */
  since(from: number): { steps: StepRecord[]; next: number } {
    const first = Math.max(from, this.next - this.ring.length);
    const steps: StepRecord[] = [];
    for (let i = first; i < this.next; i++) steps.push(this.ring[i % this.capacity]!);
    return { steps, next: this.next };
  }
}

/** Block states in the map. */
export const BLOCK_STATES = ['null', 'free', 'cached', 'used'] as const;
export type BlockState = (typeof BLOCK_STATES)[number];

export interface SequenceView {
  /** `requestId` or `requestId#k` for sample k > 0. */
  readonly id: string;
  readonly promptTokens: number;
  readonly computedTokens: number;
  readonly generatedTokens: number;
  readonly cachedTokens: number;
  /** prefill (a chunk of prompt still to compute), decode, waiting, preempted (waiting to recompute). */
  readonly state: 'prefill' | 'decode' | 'waiting' | 'preempted';
  readonly blocks: number;
}

export interface EngineSnapshot {
  readonly time: number;
  readonly blockSize: number;
  readonly numBlocks: number;
  /**
   * The block map, run-length encoded: flat quadruples [stateIndex, owner, refCount, length] over
   * block ids 0..numBlocks-1, `stateIndex` into BLOCK_STATES and `owner` an index into `running`
   * (the first running sequence holding the block; -1 for none). Free space is mostly long runs.
   */
  readonly blockRuns: number[];
  readonly running: SequenceView[];
  readonly waiting: SequenceView[];
  readonly steps: StepRecord[];
  /** Pass back as `since` to get only newer steps. */
  readonly nextStep: number;
  readonly stats: EngineStats;
}

function viewOf(seq: Sequence): SequenceView {
  const id = seq.index === 0 ? seq.request.id : `${seq.request.id}#${seq.index}`;
  const prefill = seq.numComputedTokens < seq.numTokens - 1;
  const state = seq.status === 'running' ? (prefill ? 'prefill' : 'decode') : seq.status === 'preempted' ? 'preempted' : 'waiting';
  return {
    id,
    promptTokens: seq.numPromptTokens,
    computedTokens: seq.numComputedTokens,
    generatedTokens: seq.outputTokenIds.length,
    cachedTokens: seq.numCachedTokens,
    state,
    blocks: seq.blockTable.length,
  };
}

/** Run-length encodes the pool's blocks with the first running owner of each used block. */
export function encodeBlocks(pool: BlockPool, running: readonly Sequence[]): number[] {
  const owner = new Int32Array(pool.numBlocks).fill(-1);
  running.forEach((seq, i) => {
    for (const b of seq.blockTable) if (owner[b] === -1) owner[b] = i;
  });
  const runs: number[] = [];
  for (let id = 0; id < pool.numBlocks; id++) {
    const b = pool.blocks[id]!;
    const state = id === 0 ? 0 : b.refCount > 0 ? 3 : b.hash !== null ? 2 : 1;
    const ref = id === 0 ? 0 : b.refCount;
    const o = state === 3 ? owner[id]! : -1;
    const n = runs.length;
    if (n > 0 && runs[n - 4] === state && runs[n - 3] === o && runs[n - 2] === ref) runs[n - 1]!++;
    else runs.push(state, o, ref, 1);
  }
  return runs;
}

export function takeSnapshot(
  pool: BlockPool,
  blockSize: number,
  running: readonly Sequence[],
  waiting: readonly Sequence[],
  log: StepLog,
  since: number,
  stats: EngineStats,
): EngineSnapshot {
  const { steps, next } = log.since(since);
  return {
    time: performance.now(),
    blockSize,
    numBlocks: pool.numBlocks,
    blockRuns: encodeBlocks(pool, running),
    running: running.map(viewOf),
    waiting: waiting.map(viewOf),
    steps,
    nextStep: next,
    stats,
  };
}
