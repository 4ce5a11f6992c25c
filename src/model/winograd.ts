/**
 * 3×3 convolutions by Winograd's F(2×2, 3×3) on the wasm backend: each 2×2 block of outputs from a 4×4
 * input window with 16 multiplies per channel pair instead of 36 (docs/training-speed.md). The inference
 * graph transforms each filter once (`winogradFilter`) and runs the `BirdgateWinogradConv` kernel; training
 * kernels call `winogradOnHeap` and `winogradInputGradient`, which transform the filter on each call.
 * Either way the three WebAssembly SIMD steps of simd-kernels.wat run over chunks of tiles small enough to
 * stay in cache.
 */
import * as tf from '@tensorflow/tfjs';
import { heapOffset, simdKernels, type WasmHeapBackend } from './simd-kernels.ts';

export const WINOGRAD_CONV = 'BirdgateWinogradConv';

/** Tiles per chunk: V and M of a chunk (16 planes × 64 tiles × 64 channels: 256 KB each at most) stay in L2. */
const CHUNK = 64;
/**
 * Bytes between planes: one cache line more than their data, so that the 16 values a tile spreads over
 * the planes do not all fall in the same cache set (4 KB apart, they would: −30 % time in the transforms).
 */
const planeBytes = (channels: number) => CHUNK * channels * 4 + 64;

/**
 * Whether Winograd applies: a 3×3 filter, stride and dilation 1, 'same' padding, input channels in fours
 * and output channels in eights (the SIMD steps' widths). The image's sides must also be even (checked per
 * call: see `winogradConv2d`). Not an RGB input: with three channels padded to four it ran slower than
 * XNNPACK's direct convolution (1.46 against 1.14 ms for the default cnn's first layer at batch 32).
 */
export function winogradApplies(
  filterShape: readonly number[],
  config: { strides?: unknown; dilationRate?: unknown; padding?: unknown },
): boolean {
  return (
    tf.getBackend() === 'wasm' &&
    filterFits(filterShape) &&
    allOnes(config.strides) &&
    allOnes(config.dilationRate) &&
    config.padding === 'same'
  );
}

/** A stride or dilation attribute that is 1 along every axis. */
export const allOnes = (v: unknown) =>
  v === undefined || v === 1 || (Array.isArray(v) && v.every((s) => s === 1));

const filterFits = ([kh, kw, ci, co]: readonly number[]) =>
  kh === 3 && kw === 3 && ci! % 4 === 0 && co! % 8 === 0;

/** U = G·g·Gᵀ for every (ci, co), G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1]: a [16, ci, co] tensor, entry-major. */
export function winogradFilter(filter: tf.Tensor): tf.Tensor3D {
  const [, , ci, co] = filter.shape as [number, number, number, number];
  const u = new Float32Array(16 * ci * co);
  transformFilter(filter.dataSync() as Float32Array, u, ci * co);
  return tf.tensor3d(u, [16, ci, co]);
}

/**
 * g [3, 3, pairs] → u [16, pairs]: each column of g through G, then each row of the 4×3 result. Scalar
 * locals, not array destructuring: this runs twice per convolution and training step (forward, input
 * gradient) over up to 4,096 pairs.
 */
function transformFilter(g: Float32Array, u: Float32Array, pairs: number): void {
  const t = new Float32Array(12); // G·g for one pair, 4 × 3
  for (let c = 0; c < pairs; c++) {
    for (let kx = 0; kx < 3; kx++) {
      const a = g[kx * pairs + c]!;
      const b = g[(3 + kx) * pairs + c]!;
      const d = g[(6 + kx) * pairs + c]!;
      t[kx] = a;
      t[3 + kx] = (a + b + d) / 2;
      t[6 + kx] = (a - b + d) / 2;
      t[9 + kx] = d;
    }
    for (let i = 0; i < 4; i++) {
      const a = t[3 * i]!;
      const b = t[3 * i + 1]!;
      const d = t[3 * i + 2]!;
      const at = 4 * i * pairs + c;
      u[at] = a;
      u[at + pairs] = (a + b + d) / 2;
      u[at + 2 * pairs] = (a - b + d) / 2;
      u[at + 3 * pairs] = d;
    }
  }
}

export interface WinogradAttrs {
  relu: boolean;
  /** Then a 2×2, stride-2 max pool: each tile's four outputs are one pooling window. */
  pool: boolean;
}

/** The input with one zero pixel on every side, so no tile's window needs bounds checks. */
function padInput(b: WasmHeapBackend, x: tf.TensorInfo): tf.TensorInfo {
  const [n, h, w, ci] = x.shape as [number, number, number, number];
  const pixel = 4 * ci;
  const padded = b.makeOutput([n * (h + 2) * (w + 2) * ci], 'float32');
  const paddedRow = (w + 2) * ci;
  const heap = b.typedArrayFromHeap(padded);
  const kernels = simdKernels(b);
  for (let img = 0; img < n; img++) {
    const top = img * (h + 2) * paddedRow;
    heap.fill(0, top, top + paddedRow);
    heap.fill(0, top + (h + 1) * paddedRow, top + (h + 2) * paddedRow);
    kernels.padColumns(
      heapOffset(b, x) + img * h * w * pixel,
      heapOffset(b, padded) + (img * (h + 2) + 1) * (w + 2) * pixel,
      h,
      w * pixel,
      (w + 2) * pixel,
      pixel,
      w * pixel,
    );
  }
  return padded;
}

/** x [n, h, w, ci] (h and w even), u as winogradFilter makes it, bias [co]: conv2d + bias, 'same'. */
function runWinograd(
  b: WasmHeapBackend,
  x: tf.TensorInfo,
  u: tf.TensorInfo,
  bias: tf.TensorInfo,
  { relu, pool }: WinogradAttrs,
): tf.TensorInfo {
  const [n, h, w, ci] = x.shape as [number, number, number, number];
  const co = u.shape[2]!;
  const kernels = simdKernels(b);
  const [th, tw] = [h / 2, w / 2];
  const padded = padInput(b, x);
  const [vPlane, mPlane] = [planeBytes(ci), planeBytes(co)];
  const v = b.makeOutput([4 * vPlane], 'float32'); // 16 planes of vPlane bytes
  const m = b.makeOutput([4 * mPlane], 'float32');
  const out = b.makeOutput(pool ? [n, th, tw, co] : [n, h, w, co], 'float32');
  const tiles = n * th * tw;
  for (let t0 = 0; t0 < tiles; t0 += CHUNK) {
    const count = Math.min(CHUNK, tiles - t0);
    kernels.winogradInput(heapOffset(b, padded), heapOffset(b, v), t0, count, th, tw, ci, vPlane);
    kernels.winogradGemm(
      heapOffset(b, v),
      heapOffset(b, u),
      heapOffset(b, m),
      Math.ceil(count / 4) * 4,
      ci,
      co,
      vPlane,
      ci * co * 4,
      mPlane,
    );
    kernels.winogradOutput(
      heapOffset(b, m),
      heapOffset(b, out),
      heapOffset(b, bias),
      t0,
      count,
      th,
      tw,
      co,
      mPlane,
      relu ? 1 : 0,
      pool ? 1 : 0,
    );
  }
  for (const scratch of [padded, v, m]) b.disposeData(scratch.dataId);
  return out;
}

const winogradKernel: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, u, bias } = inputs as { x: tf.TensorInfo; u: tf.TensorInfo; bias: tf.TensorInfo };
  return runWinograd(backend as WasmHeapBackend, x, u, bias, attrs as unknown as WinogradAttrs);
};

/**
 * A convolution inside another wasm kernel (training: the forward pass): the filter [3, 3, ci, co] is
 * transformed on the spot, and a missing bias is zero. The caller checks the shapes (`winogradFits`).
 */
export function winogradOnHeap(
  b: WasmHeapBackend,
  x: tf.TensorInfo,
  filter: tf.TensorInfo,
  bias: tf.TensorInfo | undefined,
  relu: boolean,
): tf.TensorInfo {
  const [, , ci, co] = filter.shape as [number, number, number, number];
  return convolveOnHeap(b, x, () => b.typedArrayFromHeap(filter) as Float32Array, ci, co, bias, relu);
}

/**
 * A stride-1 3×3 'same' convolution's input gradient: dy convolved with the filter rotated 180° and its
 * channel axes swapped, read straight from the filter into the transform (no Reverse, no Transpose).
 * The caller checks the shapes (`winogradFits` of dy and the swapped filter).
 */
export function winogradInputGradient(b: WasmHeapBackend, dy: tf.TensorInfo, filter: tf.TensorInfo) {
  const [, , ci, co] = filter.shape as [number, number, number, number];
  const g = b.typedArrayFromHeap(filter) as Float32Array;
  const flipped = new Float32Array(g.length); // [3, 3, co, ci]
  for (let k = 0; k < 9; k++) {
    const from = (8 - k) * ci * co;
    for (let i = 0; i < ci; i++)
      for (let o = 0; o < co; o++) flipped[k * ci * co + o * ci + i] = g[from + i * co + o]!;
  }
  return convolveOnHeap(b, dy, () => flipped, co, ci, undefined, false);
}

/** `filter()` is read after the scratch tensors are made: making them may grow (and move) the heap. */
function convolveOnHeap(
  b: WasmHeapBackend,
  x: tf.TensorInfo,
  filter: () => Float32Array,
  ci: number,
  co: number,
  bias: tf.TensorInfo | undefined,
  relu: boolean,
): tf.TensorInfo {
  const u = b.makeOutput([16, ci, co], 'float32');
  const zero = bias ? undefined : b.makeOutput([co], 'float32');
  transformFilter(filter(), b.typedArrayFromHeap(u), ci * co);
  if (zero) b.typedArrayFromHeap(zero).fill(0);
  const out = runWinograd(b, x, u, bias ?? zero!, { relu, pool: false });
  for (const scratch of [u, zero]) if (scratch) b.disposeData(scratch.dataId);
  return out;
}

/**
 * The filter gradient of a 3×3 'same' convolution of x (checked by `winogradFits`) given its output
 * gradient dy: dU[e] = Σ over tiles of V[e]ᵀ·dM[e] with dM = A·dY·Aᵀ, then dW = Gᵀ·dU·G.
 */
export function winogradFilterGradient(
  b: WasmHeapBackend,
  x: tf.TensorInfo,
  dy: tf.TensorInfo,
  co: number,
): tf.TensorInfo {
  const [n, h, w, ci] = x.shape as [number, number, number, number];
  const kernels = simdKernels(b);
  const [th, tw] = [h / 2, w / 2];
  const padded = padInput(b, x);
  const [vPlane, mPlane] = [planeBytes(ci), planeBytes(co)];
  const v = b.makeOutput([4 * vPlane], 'float32');
  const dm = b.makeOutput([4 * mPlane], 'float32');
  const du = b.makeOutput([16, ci, co], 'float32');
  b.typedArrayFromHeap(du).fill(0);
  const tiles = n * th * tw;
  for (let t0 = 0; t0 < tiles; t0 += CHUNK) {
    const count = Math.min(CHUNK, tiles - t0);
    kernels.winogradInput(heapOffset(b, padded), heapOffset(b, v), t0, count, th, tw, ci, vPlane);
    kernels.winogradOutputGrad(heapOffset(b, dy), heapOffset(b, dm), t0, count, th, tw, co, mPlane);
    kernels.winogradFilterGemm(
      heapOffset(b, v),
      heapOffset(b, dm),
      heapOffset(b, du),
      count,
      ci,
      co,
      vPlane,
      mPlane,
    );
  }
  const dw = b.makeOutput([3, 3, ci, co], 'float32');
  untransformFilter(b.typedArrayFromHeap(du), b.typedArrayFromHeap(dw), ci * co);
  for (const scratch of [padded, v, dm, du]) b.disposeData(scratch.dataId);
  return dw;
}

/** du [16, pairs] → dw [3, 3, pairs] = Gᵀ·du·G per pair: the adjoint of transformFilter (scalars, as there). */
function untransformFilter(du: Float32Array, dw: Float32Array, pairs: number): void {
  const t = new Float32Array(12); // Gᵀ·du for one pair, 3 × 4
  for (let c = 0; c < pairs; c++) {
    for (let j = 0; j < 4; j++) {
      const x0 = du[j * pairs + c]!;
      const x1 = du[(4 + j) * pairs + c]!;
      const x2 = du[(8 + j) * pairs + c]!;
      const x3 = du[(12 + j) * pairs + c]!;
      t[j] = x0 + (x1 + x2) / 2;
      t[4 + j] = (x1 - x2) / 2;
      t[8 + j] = (x1 + x2) / 2 + x3;
    }
    for (let k = 0; k < 3; k++) {
      const x0 = t[4 * k]!;
      const x1 = t[4 * k + 1]!;
      const x2 = t[4 * k + 2]!;
      const x3 = t[4 * k + 3]!;
      dw[3 * k * pairs + c] = x0 + (x1 + x2) / 2;
      dw[(3 * k + 1) * pairs + c] = (x1 - x2) / 2;
      dw[(3 * k + 2) * pairs + c] = (x1 + x2) / 2 + x3;
    }
  }
}

/** NHWC x and a [3, 3, ci, co] filter whose sides, channels and image suit the SIMD steps. */
export function winogradFits(xShape: readonly number[], filterShape: readonly number[]): boolean {
  const [, h, w, ci] = xShape as [number, number, number, number];
  return filterFits(filterShape) && filterShape[2] === ci && h % 2 === 0 && w % 2 === 0;
}

/**
 * conv2d(x, filter) + bias, then ReLU and a 2×2 max pool if asked ('same' padding, stride 1); falls back to
 * tf.fused.conv2d for odd sides.
 */
export function winogradConv2d(
  x: tf.Tensor4D,
  u: tf.Tensor3D,
  filter: tf.Tensor4D,
  bias: tf.Tensor1D,
  { relu, pool }: WinogradAttrs,
): tf.Tensor4D {
  if (x.shape[1] % 2 || x.shape[2] % 2) {
    const y = tf.fused.conv2d({
      x,
      filter,
      bias,
      strides: 1,
      pad: 'same',
      activation: relu ? 'relu' : 'linear',
    });
    return pool ? tf.maxPool(y, 2, 2, 'valid') : y;
  }
  return tf.engine().runKernel(WINOGRAD_CONV, { x, u, bias }, { relu, pool } as never) as tf.Tensor4D;
}

export function installWinogradKernel(): void {
  if (!tf.getKernel(WINOGRAD_CONV, 'wasm')) {
    tf.registerKernel({ kernelName: WINOGRAD_CONV, backendName: 'wasm', kernelFunc: winogradKernel });
  }
}
