import type { Command } from 'commander';
import { addCommonOptions, type CommonOpts } from '../options.js';

export function registerTokenize(program: Command): void {
  addCommonOptions(program.command('tokenize').description('show how text splits into GPT-2 tokens').argument('<text>', 'text to tokenize')).action(
    async (text: string, o: CommonOpts) => (await import('../run/tokenize.js')).tokenize(text, o),
  );
}
