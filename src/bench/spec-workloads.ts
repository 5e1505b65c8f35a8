/**
 * Prompts for the speculative decoding benchmark, from real text (the King James Version, public
 * domain; James 1, which kjv-mini never saw in training).
 *
 * - input-grounded: the passage, then an instruction-free restart of it, so a model that follows
 *   its context copies long spans of the prompt (what n-gram lookup exploits: edits, quotes, RAG).
 * - open-ended: a short opening and free continuation.
 */
const PASSAGE = [
  'James, a servant of God and of the Lord Jesus Christ, to the twelve tribes which are scattered abroad, greeting.',
  'My brethren, count it all joy when ye fall into divers temptations;',
  'Knowing this, that the trying of your faith worketh patience.',
  'But let patience have her perfect work, that ye may be perfect and entire, wanting nothing.',
  'If any of you lack wisdom, let him ask of God, that giveth to all men liberally, and upbraideth not; and it shall be given him.',
  'But let him ask in faith, nothing wavering. For he that wavereth is like a wave of the sea driven with the wind and tossed.',
  'For let not that man think that he shall receive any thing of the Lord.',
  'A double minded man is unstable in all his ways.',
  'Let the brother of low degree rejoice in that he is exalted:',
  'But the rich, in that he is made low: because as the flower of the grass he shall pass away.',
].join('\n');

export const SPEC_WORKLOADS = ['input-grounded', 'open-ended'] as const;
export type SpecWorkload = (typeof SPEC_WORKLOADS)[number];

export function workloadPrompt(w: SpecWorkload): string {
  if (w === 'open-ended') return 'In the beginning God created';
  // The passage, then its first words again: the continuation that follows the context is a copy.
  return `${PASSAGE}\n\n${PASSAGE.slice(0, 40)}`;
}
