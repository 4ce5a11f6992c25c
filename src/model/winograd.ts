/**
 * 3×3 convolutions by Winograd's F(4×4, 3×3) on the wasm backend: each 4×4 block of outputs from a 6×6
 * input window with 36 multiplies per channel pair instead of 144 (docs/training-speed.md). The inference
 * graph transforms each filter once (`winogradFilter`) and runs the `BirdgateWinogradConv` kernel; training
 * kernels call `winogradOnHeap` and `winogradInputGradient`, which transform the filter on each call.
 * Either way the three WebAssembly SIMD steps of simd-kernels.wat run over chunks of tiles small enough to
 * stay in cache.
 */
import * as tf from '@tensorflow/tfjs';
import { heapOffset, simdKernels, type WasmHeapBackend } from './simd-kernels.ts';

export const WINOGRAD_CONV = 'BirdgateWinogradConv';

/** Entries of a transformed tile (6 × 6): the planes of V, U and M. */
const PLANES = 36;
/** Tiles per chunk: V and M of a chunk (36 planes × 32 tiles × 64 channels: 288 KB each at most) stay in cache. */
const CHUNK = 32;
/**
 * Bytes between planes: one cache line more than their data, so that the 36 values a tile spreads over
 * the planes do not all fall in the same cache set (4 KB apart, they would: −30 % time in the transforms).
 */
const planeBytes = (channels: number) => CHUNK * channels * 4 + 64;

/**
 * Whether Winograd applies: a 3×3 filter, stride and dilation 1, 'same' padding, input channels in fours
 * and output channels in eights (the SIMD steps' widths). The image's sides must also be multiples of 4
 * (checked per call: see `winogradConv2d`). Not an RGB input: with three channels padded to four it ran no
 * faster than a direct convolution (direct-conv.ts), which the first layers take.
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

/**
 * U = G·g·Gᵀ for every (ci, co) (G in simd-kernels.wat, `winogradFilterTransform`): a [36, ci, co] tensor,
 * entry-major. On the wasm backend, as every caller of Winograd's kernels.
 */
export function winogradFilter(filter: tf.Tensor): tf.Tensor3D {
  const [, , ci, co] = filter.shape as [number, number, number, number];
  const b = tf.backend() as WasmHeapBackend;
  const u = b.makeOutput([PLANES, ci, co], 'float32');
  simdKernels(b).winogradFilterTransform(heapOffset(b, filter), heapOffset(b, u), ci * co);
  return tf.engine().makeTensorFromTensorInfo(u) as tf.Tensor3D;
}

export interface WinogradAttrs {
  relu: boolean;
  /** Then a 2×2, stride-2 max pool: each 2×2 block of a tile's 4×4 outputs is one pooling window. */
  pool: boolean;
}

/** The input with one zero pixel on every side, so no tile's window needs bounds checks. */
export function padInput(b: WasmHeapBackend, x: tf.TensorInfo): tf.TensorInfo {
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

/** x [n, h, w, ci] (h and w multiples of 4), u as winogradFilter makes it, bias [co]: conv2d + bias, 'same'. */
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
  const [th, tw] = [h / 4, w / 4];
  const padded = padInput(b, x);
  const [vPlane, mPlane] = [planeBytes(ci), planeBytes(co)];
  const v = b.makeOutput([(PLANES * vPlane) / 4], 'float32'); // 36 planes of vPlane bytes
  const m = b.makeOutput([(PLANES * mPlane) / 4], 'float32');
  const out = b.makeOutput(pool ? [n, h / 2, w / 2, co] : [n, h, w, co], 'float32');
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
      PLANES,
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
 * A stride-1 3×3 'same' convolution's input gradient: dy convolved with the filter rotated 180° and its
 * channel axes swapped, copied in that order in one JS pass (no Reverse, no Transpose kernels).
 * The caller checks the shapes (`winogradFits` of dy and the swapped filter).
 */
export function winogradInputGradient(b: WasmHeapBackend, dy: tf.TensorInfo, filter: tf.TensorInfo) {
  const [, , ci, co] = filter.shape as [number, number, number, number];
  const flipped = b.makeOutput([3, 3, co, ci], 'float32');
  const [g, f] = [b.typedArrayFromHeap(filter), b.typedArrayFromHeap(flipped)];
  for (let k = 0; k < 9; k++) {
    const from = (8 - k) * ci * co;
    for (let i = 0; i < ci; i++)
      for (let o = 0; o < co; o++) f[k * ci * co + o * ci + i] = g[from + i * co + o]!;
  }
  const dx = winogradOnHeap(b, dy, flipped, undefined, false);
  b.disposeData(flipped.dataId);
  return dx;
}

/**
 * A convolution inside another wasm kernel (training: the forward pass and the input gradient):
 * conv2d(x, filter) + bias, then ReLU if asked. The filter [3, 3, ci, co] is transformed on the spot, and a
 * missing bias is zero. The caller checks the shapes (`winogradFits`).
 */
export function winogradOnHeap(
  b: WasmHeapBackend,
  x: tf.TensorInfo,
  filter: tf.TensorInfo,
  bias: tf.TensorInfo | undefined,
  relu: boolean,
): tf.TensorInfo {
  const [, , ci, co] = filter.shape as [number, number, number, number];
  const u = b.makeOutput([PLANES, ci, co], 'float32');
  simdKernels(b).winogradFilterTransform(heapOffset(b, filter), heapOffset(b, u), ci * co);
  const out = withBias(b, bias, co, (biasOrZero) => runWinograd(b, x, u, biasOrZero, { relu, pool: false }));
  b.disposeData(u.dataId);
  return out;
}

/** Runs `kernel` on `bias`, or, when there is none, on a zeroed [co] one that lives while the kernel runs. */
export function withBias<T>(
  b: WasmHeapBackend,
  bias: tf.TensorInfo | undefined,
  co: number,
  kernel: (bias: tf.TensorInfo) => T,
): T {
  if (bias) return kernel(bias);
  const zero = b.makeOutput([co], 'float32');
  b.typedArrayFromHeap(zero).fill(0);
  try {
    return kernel(zero);
  } finally {
    b.disposeData(zero.dataId);
  }
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
  const [th, tw] = [h / 4, w / 4];
  const padded = padInput(b, x);
  const [vPlane, mPlane] = [planeBytes(ci), planeBytes(co)];
  const v = b.makeOutput([(PLANES * vPlane) / 4], 'float32');
  const dm = b.makeOutput([(PLANES * mPlane) / 4], 'float32');
  const du = b.makeOutput([PLANES, ci, co], 'float32');
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
      PLANES,
    );
  }
  const dw = b.makeOutput([3, 3, ci, co], 'float32');
  kernels.winogradFilterUntransform(heapOffset(b, du), heapOffset(b, dw), ci * co);
  for (const scratch of [padded, v, dm, du]) b.disposeData(scratch.dataId);
  return dw;
}

/** An image whose sides are whole tiles of 4×4 outputs. */
const sidesFit = ([, h, w]: readonly number[]) => h! % 4 === 0 && w! % 4 === 0;

/** NHWC x and a [3, 3, ci, co] filter whose sides, channels and image suit the SIMD steps. */
export function winogradFits(xShape: readonly number[], filterShape: readonly number[]): boolean {
  return filterFits(filterShape) && filterShape[2] === xShape[3] && sidesFit(xShape);
}

/**
 * conv2d(x, filter) + bias, then ReLU and a 2×2 max pool if asked ('same' padding, stride 1); falls back to
 * tf.fused.conv2d for sides that are not multiples of 4.
 */
export function winogradConv2d(
  x: tf.Tensor4D,
  u: tf.Tensor3D,
  filter: tf.Tensor4D,
  bias: tf.Tensor1D,
  { relu, pool }: WinogradAttrs,
): tf.Tensor4D {
  if (!sidesFit(x.shape)) {
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
