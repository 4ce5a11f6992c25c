/**
 * The WebAssembly SIMD kernels of simd-kernels.wat, instantiated on the memory of TensorFlow.js's wasm
 * backend so that they read and write its tensors in place: four float32 lanes per instruction where the
 * JS loops of js-kernels.ts do one (docs/training-speed.md).
 */
import { readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import type * as tf from '@tensorflow/tfjs';

export interface SimdKernels {
  /** tanh of `n4` groups of four floats from byte offset `src` to `dst`. */
  tanh(src: number, dst: number, n4: number): void;
  /** tanh's gradient dy·(1 − y²) of `n4` groups of four floats, from its output y. */
  tanhGrad(dy: number, y: number, dst: number, n4: number): void;
  /** ReLU's gradient of `n4` groups of four floats: dy where x > 0, else 0. */
  reluGrad(dy: number, x: number, dst: number, n4: number): void;
  /** 2×2, stride-2 max pool; `c` a multiple of 4, `windows` = n·(h/2)·(w/2). */
  maxPool2x2(x: number, out: number, windows: number, halfW: number, c: number): void;
  /** 2×2, stride-2 max-pool gradient; `c` a multiple of 4, `windows` = n·(h/2)·(w/2). */
  maxPoolGrad2x2(x: number, dy: number, dx: number, windows: number, halfW: number, c: number): void;
  /** Column sums of a rows × (4·cols4) matrix into `dst`. */
  sumRows(src: number, dst: number, rows: number, cols4: number): void;
  /** `rows` rows of `srcRow` bytes copied `left` bytes into zeroed rows of `dstRow` bytes (`copy` bytes each). */
  padColumns(
    src: number,
    dst: number,
    rows: number,
    srcRow: number,
    dstRow: number,
    left: number,
    copy: number,
  ): void;
  /** A 3×3 'same' stride-1 convolution + bias (then ReLU if `relu` is 1) of the input padded by one pixel. */
  directConv3x3(
    xp: number,
    w: number,
    bias: number,
    out: number,
    n: number,
    h: number,
    width: number,
    ci: number,
    co: number,
    relu: number,
  ): void;
  /** A stride-1 NHWC convolution's filter gradient from the column-padded input (see the .wat). */
  filterGradient(
    xp: number,
    dy: number,
    dw: number,
    n: number,
    ho: number,
    wo: number,
    hin: number,
    ci: number,
    co: number,
    kh: number,
    kw: number,
    top: number,
  ): void;
  /** a ∘ b, b one row of 4·c4 floats broadcast down a's `rows` rows; op 0 ×, 1 +, 2 − (a − b). */
  channelBinary(a: number, b: number, out: number, rows: number, c4: number, op: 0 | 1 | 2): void;
  /** out = (x − m)·k + d, m, k and d one row of 4·c4 floats each, broadcast down x's `rows` rows. */
  channelAffine(x: number, m: number, k: number, d: number, out: number, rows: number, c4: number): void;
  /** dst = Σ over rows of (x − m)², m one row of 4·c4 floats (BatchNorm's variance, unscaled). */
  centredSquareSums(x: number, m: number, dst: number, rows: number, c4: number): void;
  /** dst = [Σ dy, Σ dy·(x − m)] over rows, each a row of 4·c4 floats (BatchNorm's gradient sums). */
  centredDotSums(dy: number, x: number, m: number, dst: number, rows: number, c4: number): void;
  /** out = dy·k + (x − m)·a + b, k, a and b consecutive rows of 4·c4 floats at `coef` (BatchNorm's dx). */
  batchNormGrad(dy: number, x: number, m: number, coef: number, out: number, rows: number, c4: number): void;
  /** Winograd's filter transform U = G·g·Gᵀ of `pairs` (a multiple of 4) channel pairs: [3, 3, pairs] → [36, pairs]. */
  winogradFilterTransform(g: number, u: number, pairs: number): void;
  /** Its adjoint dW = Gᵀ·dU·G, [36, pairs] → [3, 3, pairs], for the filter gradient; overwrites du. */
  winogradFilterUntransform(du: number, dw: number, pairs: number): void;
  /** Winograd F(4×4,3×3), step 1: the tiles' input windows transformed into 36 planes (see the .wat). */
  winogradInput(
    xp: number,
    v: number,
    t0: number,
    count: number,
    th: number,
    tw: number,
    ci: number,
    plane: number,
  ): void;
  /** Step 2: the planes' matrix products with the transformed filter. */
  winogradGemm(
    v: number,
    u: number,
    m: number,
    rows4: number,
    ci: number,
    co: number,
    vPlane: number,
    uPlane: number,
    mPlane: number,
    planes: number,
  ): void;
  /** Step 3: each tile's 4×4 outputs, plus bias, then ReLU when `relu` is 1; 2×2 blocks' maxima if `pool`. */
  winogradOutput(
    m: number,
    out: number,
    bias: number,
    t0: number,
    count: number,
    th: number,
    tw: number,
    co: number,
    plane: number,
    relu: 0 | 1,
    pool: 0 | 1,
  ): void;
  /** The filter gradient's transform of the output gradient: each tile's 4×4 block into 36 planes. */
  winogradOutputGrad(
    dy: number,
    dm: number,
    t0: number,
    count: number,
    th: number,
    tw: number,
    co: number,
    plane: number,
  ): void;
  /** dU[e] += V[e]ᵀ·dM[e] over `count` tiles, for each of the planes. */
  winogradFilterGemm(
    v: number,
    dm: number,
    du: number,
    count: number,
    ci: number,
    co: number,
    vPlane: number,
    mPlane: number,
    planes: number,
  ): void;
  /** One Adam step over `n4` groups of 4 weights; `m` and `v` are updated in place (see the .wat). */
  adam(w: number, g: number, m: number, v: number, n4: number, lr: number, c1: number, c2: number): void;
}

/** The WebAssembly API, which this project's type libraries (Node's, no DOM) leave undeclared. */
export interface WasmApi {
  Memory: new (descriptor: { initial: number }) => WasmMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: Record<string, Record<string, unknown>>) => { exports: unknown };
  validate(bytes: Uint8Array): boolean;
}
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  /** Adds 64 KiB pages; views of the old buffer are detached. */
  grow(pages: number): number;
}
const { Memory, Module, Instance, validate } = (globalThis as unknown as { WebAssembly: WasmApi })
  .WebAssembly;

/**
 * What Birdgate's kernels use of the wasm backend beyond tfjs's KernelBackend: its memory, where each
 * tensor lives in it, and its own allocation and reference counting.
 */
export type WasmHeapBackend = tf.KernelBackend & {
  wasm: { asm: { memory: object } };
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array;
  disposeData(dataId: object): boolean;
  incRef(dataId: object): void;
};

/**
 * The build with relaxed SIMD's fused multiply-add (matrix tiles, tanh) where the runtime takes it (20–30 %
 * more multiply-adds a second on this project's machine: docs/training-speed.md), else the plain build.
 * Node 20's V8 has relaxed SIMD behind a flag (on by default from V8 11.4: Node 22, Electron 25); V8 reads
 * it when it compiles a module, so setting it here, before the first compile, is enough.
 */
function kernelModule(): object {
  const relaxed = readFileSync(new URL('./simd-kernels-relaxed.wasm', import.meta.url));
  if (!validate(relaxed)) setFlagsFromString('--experimental-wasm-relaxed-simd');
  return new Module(
    validate(relaxed) ? relaxed : readFileSync(new URL('./simd-kernels.wasm', import.meta.url)),
  );
}

const module = kernelModule();
const instances = new WeakMap<object, SimdKernels>();

export function simdKernels(backend: WasmHeapBackend): SimdKernels {
  return kernelsOn(backend.wasm.asm.memory);
}

/** A memory of one's own, for work on plain arrays outside any backend (the optimizer). */
export function ownMemory(): { memory: WasmMemory; kernels: SimdKernels } {
  const memory = new Memory({ initial: 1 });
  return { memory, kernels: kernelsOn(memory) };
}

function kernelsOn(memory: object): SimdKernels {
  let kernels = instances.get(memory);
  if (!kernels) {
    kernels = new Instance(module, { tfjs: { memory } }).exports as SimdKernels;
    instances.set(memory, kernels);
  }
  return kernels;
}

/** Byte offset of a tensor's data in the backend's memory. */
export function heapOffset(backend: WasmHeapBackend, info: tf.TensorInfo): number {
  const data = backend.dataIdMap.get(info.dataId);
  if (!data) throw new Error('tensor has no data on the wasm backend');
  return data.memoryOffset;
}
