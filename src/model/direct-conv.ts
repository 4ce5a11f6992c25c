/**
 * 3×3 convolutions of inputs with few channels (the RGB input), computed directly in WebAssembly SIMD
 * (simd-kernels.wat: directConv3x3): Winograd's transforms cost more than they save at three channels, and
 * XNNPACK's convolution runs without fused multiply-add (docs/training-speed.md).
 */
import type * as tf from '@tensorflow/tfjs';
import { heapOffset, simdKernels, type WasmHeapBackend } from './simd-kernels.ts';
import { padInput, withBias } from './winograd.ts';

/** A 3×3 filter over an input whose channels are not in fours (those are Winograd's), width in fours, co in eights. */
export function directConvFits(xShape: readonly number[], filterShape: readonly number[]): boolean {
  const [kh, kw, ci, co] = filterShape;
  return kh === 3 && kw === 3 && ci === xShape[3] && ci! % 4 !== 0 && co! % 8 === 0 && xShape[2]! % 4 === 0;
}

/** conv2d(x, filter) + bias ('same', stride 1), then ReLU if asked; a missing bias is zero. */
export function directConvOnHeap(
  b: WasmHeapBackend,
  x: tf.TensorInfo,
  filter: tf.TensorInfo,
  bias: tf.TensorInfo | undefined,
  relu: boolean,
): tf.TensorInfo {
  const [n, h, w, ci] = x.shape as [number, number, number, number];
  const co = filter.shape[3]!;
  const padded = padInput(b, x);
  const out = b.makeOutput([n, h, w, co], 'float32');
  withBias(b, bias, co, (biasOrZero) =>
    simdKernels(b).directConv3x3(
      heapOffset(b, padded),
      heapOffset(b, filter),
      heapOffset(b, biasOrZero),
      heapOffset(b, out),
      n,
      h,
      w,
      ci,
      co,
      relu ? 1 : 0,
    ),
  );
  b.disposeData(padded.dataId);
  return out;
}
