/**
 * Assembles src/model/simd-kernels.wat into simd-kernels.wasm (committed, so running Birdgate needs no
 * assembler). Run with `npm run build:kernels` after editing the .wat; test/kernels.test.ts checks that
 * the two agree.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import wabt from 'wabt';

export const WAT = fileURLToPath(new URL('../src/model/simd-kernels.wat', import.meta.url));
export const WASM = fileURLToPath(new URL('../src/model/simd-kernels.wasm', import.meta.url));

export async function assembleKernels(): Promise<Uint8Array> {
  const module = (await wabt()).parseWat(WAT, await readFile(WAT, 'utf8'), { simd: true, bulk_memory: true });
  try {
    module.validate();
    return module.toBinary({}).buffer;
  } finally {
    module.destroy();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await writeFile(WASM, await assembleKernels());
  console.log(`wrote ${WASM}`);
}
