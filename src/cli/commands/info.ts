import type { Command } from 'commander';
import { addCommonOptions, type CommonOpts } from '../options.js';

export function registerInfo(program: Command): void {
  addCommonOptions(program.command('info').description('show model shape, size, dtype and the kernel backend in use')).action(async (o: CommonOpts) =>
    (await import('../run/info.js')).info(o),
  );
}
