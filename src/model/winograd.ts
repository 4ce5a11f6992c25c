/**
 * 3×3 convolutions by Winograd's F(2×2, 3×3) on the wasm backend, for inference: each 2×2 block of outputs
 * from a 4×4 input window with 16 multiplies per channel pair instead of 36 (docs/training-speed.md). The
 * filter is transformed once (`winogradFilter`) when the inference graph is built; each call then runs the
 * three WebAssembly SIMD steps of simd-kernels.wat over chunks of tiles small enough to stay in cache.
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
  const [kh, kw, ci, co] = filterShape as [number, number, number, number];
  const ones = (v: unknown) => v === undefined || v === 1 || (Array.isArray(v) && v.every((s) => s === 1));
  return (
    tf.getBackend() === 'wasm' &&
    kh === 3 &&
    kw === 3 &&
    ci % 4 === 0 &&
    co % 8 === 0 &&
    ones(config.strides) &&
    ones(config.dilationRate) &&
    config.padding === 'same'
  );
}

/** U = G·g·Gᵀ for every (ci, co), G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1]: a [16, ci, co] tensor, entry-major. */
export function winogradFilter(filter: tf.Tensor): tf.Tensor3D {
  const [, , ci, co] = filter.shape as [number, number, number, number];
  const g = filter.dataSync();
  const u = new Float32Array(16 * ci * co);
  const at = (ky: number, kx: number, c: number) => g[(ky * 3 + kx) * ci * co + c]!;
  const gMul = (a: number, b: number, c: number) => [a, (a + b + c) / 2, (a - b + c) / 2, c];
  for (let c = 0; c < ci * co; c++) {
    // G·g: each column of g (kx fixed) through G, then each row of the 4×3 result through G.
    const cols = [0, 1, 2].map((kx) => gMul(at(0, kx, c), at(1, kx, c), at(2, kx, c)));
    for (let i = 0; i < 4; i++) {
      const row = gMul(cols[0]![i]!, cols[1]![i]!, cols[2]![i]!);
      for (let j = 0; j < 4; j++) u[(4 * i + j) * ci * co + c] = row[j]!;
    }
  }
  return tf.tensor3d(u, [16, ci, co]);
}

export interface WinogradAttrs {
  relu: boolean;
  /** Then a 2×2, stride-2 max pool: each tile's four outputs are one pooling window. */
  pool: boolean;
}

/** x [n, h, w, ci] (h and w even), u from winogradFilter, bias [co]: conv2d + bias (+ ReLU), 'same'. */
const winogradKernel: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, u, bias } = inputs as { x: tf.TensorInfo; u: tf.TensorInfo; bias: tf.TensorInfo };
  const [n, h, w, ci] = x.shape as [number, number, number, number];
  const co = u.shape[2]!;
  const b = backend as WasmHeapBackend;
  const kernels = simdKernels(b);
  const [th, tw] = [h / 2, w / 2];
  const pixel = 4 * ci;
  // The input with one zero pixel on every side, so no window needs bounds checks.
  const padded = b.makeOutput([n * (h + 2) * (w + 2) * ci], 'float32');
  const paddedRow = (w + 2) * ci;
  const heap = b.typedArrayFromHeap(padded);
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
  const [vPlane, mPlane] = [planeBytes(ci), planeBytes(co)];
  const v = b.makeOutput([4 * vPlane], 'float32'); // 16 planes of vPlane bytes
  const m = b.makeOutput([4 * mPlane], 'float32');
  const { relu, pool } = attrs as unknown as WinogradAttrs;
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
};

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
