/** The benches' `--backends a,b,c`: each one selected in turn; one that does not load here is skipped. */
import { selectBackend, type BackendChoice } from '../src/model/backend.ts';

export async function* loadableBackends(list: string): AsyncGenerator<BackendChoice> {
  for (const backend of list.split(',') as BackendChoice[]) {
    try {
      await selectBackend(backend);
    } catch {
      console.error(`# backend ${backend} does not load here; skipped`);
      continue;
    }
    yield backend;
  }
}
