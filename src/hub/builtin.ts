/**
 * Models shipped inside the package, under `models/NAME/` at the package root. They resolve by
 * name with no network and no Hugging Face cache: the offline first run and a trained test subject.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Short names of the bundled models (see each folder's README.md). */
export const BUILTIN_MODELS: readonly string[] = ['kjv-mini'];

/** `models/` at the package root: two levels above this file in both src/ and dist/. */
export const BUILTIN_MODELS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'models');

/** The directory of built-in model `name`, or null if `name` is not one (or is missing from the package). */
export function builtinModelDir(name: string): string | null {
  if (!BUILTIN_MODELS.includes(name)) return null;
  const dir = join(BUILTIN_MODELS_DIR, name);
  return existsSync(join(dir, 'config.json')) ? dir : null;
}
