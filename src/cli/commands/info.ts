import type { Command } from 'commander';
import { addCommonOptions, addQuantizationOptions, kvCacheDtypeOption } from '../options.js';
import type { InfoOpts } from '../run/info.js';

export function registerInfo(program: Command): void {
  addQuantizationOptions(addCommonOptions(program.command('info').description('show model shape, size, dtype, quantization and the kernel backend in use')))
    .addOption(kvCacheDtypeOption())
    .action(async (o: InfoOpts) => (await import('../run/info.js')).info(o));
}
