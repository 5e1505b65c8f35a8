// Preload (`node --import`) that appends the URL of every module the process imports to the file
// named by $RECORD_IMPORTS, one per line: tests use it to check what a command loads.
import { register } from 'node:module';

register('./record-imports-hooks.mjs', import.meta.url, { data: { file: process.env.RECORD_IMPORTS } });
