import path from 'node:path';
import { exists } from './files.ts';

/** `a.jpg`, `a (1).jpg`, `a (2).jpg`, … */
export function nameWithSuffix(name: string, n: number): string {
  if (n === 0) return name;
  const ext = path.extname(name);
  return `${name.slice(0, name.length - ext.length)} (${n})${ext}`;
}

/** Paths in `dir` for `name`, suffixed in turn, that nothing occupies on disk right now. */
export async function* freePaths(dir: string, name: string): AsyncGenerator<string> {
  for (let n = 0; ; n++) {
    const candidate = path.join(dir, nameWithSuffix(name, n));
    if (!(await exists(candidate))) yield candidate;
  }
}
