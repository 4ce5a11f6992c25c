/**
 * Assembles src/model/simd-kernels.wat into two binaries (committed, so running Birdgate needs no
 * assembler): simd-kernels-relaxed.wasm as written, with relaxed SIMD's fused multiply-add in the matrix
 * loops, and simd-kernels.wasm, the same with each `f32x4.relaxed_madd a b c` spelled out as
 * `f32x4.add (f32x4.mul a b) c`, for runtimes without relaxed SIMD (the unfused form is one of the two
 * results the relaxed instruction is allowed to give). Run with `npm run build:kernels` after editing the
 * .wat; test/kernels.test.ts checks that the files agree with it.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import wabt from 'wabt';

const file = (name: string) => fileURLToPath(new URL(`../src/model/${name}`, import.meta.url));
export const WAT = file('simd-kernels.wat');
export const WASM = { relaxed: file('simd-kernels-relaxed.wasm'), plain: file('simd-kernels.wasm') };

const MADD = '(f32x4.relaxed_madd';

/** The text with every `(f32x4.relaxed_madd a b c)` rewritten as `(f32x4.add (f32x4.mul a b) c)`. */
export function unfuseMadds(wat: string): string {
  let out = '';
  let at = 0;
  for (let start = wat.indexOf(MADD); start >= 0; start = wat.indexOf(MADD, at)) {
    const operands: string[] = [];
    let i = start + MADD.length;
    while (operands.length < 3) {
      while (/\s/.test(wat[i] ?? '')) i++;
      if (wat[i] !== '(') throw new Error(`relaxed_madd at ${start}: operands must be parenthesised`);
      const from = i;
      for (let depth = 0; ; i++) {
        if (wat[i] === '(') depth++;
        else if (wat[i] === ')' && --depth === 0) break;
        else if (i >= wat.length) throw new Error(`relaxed_madd at ${start}: unbalanced`);
      }
      operands.push(wat.slice(from, ++i));
    }
    while (/\s/.test(wat[i] ?? '')) i++;
    if (wat[i] !== ')') throw new Error(`relaxed_madd at ${start}: expected three operands`);
    const [a, b, c] = operands;
    out += `${wat.slice(at, start)}(f32x4.add (f32x4.mul ${a} ${b}) ${c})`;
    at = i + 1;
  }
  return out + wat.slice(at);
}

export async function assembleKernels(): Promise<{ relaxed: Uint8Array; plain: Uint8Array }> {
  const text = await readFile(WAT, 'utf8');
  const w = await wabt();
  const assemble = (source: string) => {
    const module = w.parseWat(WAT, source, { simd: true, bulk_memory: true, relaxed_simd: true });
    try {
      module.validate();
      return module.toBinary({}).buffer;
    } finally {
      module.destroy();
    }
  };
  return { relaxed: assemble(text), plain: assemble(unfuseMadds(text)) };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const built = await assembleKernels();
  for (const kind of ['relaxed', 'plain'] as const) {
    await writeFile(WASM[kind], built[kind]);
    console.log(`wrote ${WASM[kind]}`);
  }
}
