/**
 * Element-wise kernels for the wasm backend that work in place on its heap: WebAssembly SIMD where the
 * shapes allow (simd-kernels.wat), plain JS loops for the rest. The backend's own Tanh, MaxPoolGrad,
 * leading-axes Sum/Mean and per-channel (BatchNorm) arithmetic cost more than the convolutions around them
 * (docs/training-speed.md).
 */
import * as tf from '@tensorflow/tfjs';
import { BATCH_NORM_TRAINING, BATCH_NORM_TRAINING_GRAD, RELU_GRAD, TANH_GRAD } from './gradients.ts';
import { heapOffset, simdKernels, type WasmHeapBackend } from './simd-kernels.ts';

// Eigen's float tanh: a 13/6 rational approximation, accurate to a few float32 ulps over the clamp range.
const TANH_CLAMP = 7.90531110763549805;
const A = [
  -2.76076847742355e-16, 2.00018790482477e-13, -8.60467152213735e-11, 5.12229709037114e-8,
  1.48572235717979e-5, 6.37261928875436e-4, 4.89352455891786e-3,
] as const;
const B = [1.19825839466702e-6, 1.18534705686654e-4, 2.268434632439e-3, 4.89352518554385e-3] as const;

export function fastTanh(v: number): number {
  if (Math.abs(v) < 4e-4) return v;
  const x = v > TANH_CLAMP ? TANH_CLAMP : v < -TANH_CLAMP ? -TANH_CLAMP : v;
  const x2 = x * x;
  const p = x * ((((((A[0] * x2 + A[1]) * x2 + A[2]) * x2 + A[3]) * x2 + A[4]) * x2 + A[5]) * x2 + A[6]);
  const q = ((B[0] * x2 + B[1]) * x2 + B[2]) * x2 + B[3];
  return p / q;
}

/** Four at a time in SIMD (simd-kernels.wat), the last few in JS. */
const tanhKernel: tf.KernelFunc = ({ inputs, backend }) => {
  const b = backend as WasmHeapBackend;
  const x = inputs.x!;
  const out = b.makeOutput(x.shape, 'float32');
  const n = tf.util.sizeFromShape(x.shape);
  const vectorized = n - (n % 4);
  simdKernels(b).tanh(heapOffset(b, x), heapOffset(b, out), vectorized / 4);
  const src = b.typedArrayFromHeap(x); // views taken after allocation: the heap may have grown
  const dst = b.typedArrayFromHeap(out);
  for (let i = vectorized; i < n; i++) dst[i] = fastTanh(src[i]!);
  return out;
};

/**
 * An activation's gradient from dy and one saved tensor (gradients.ts): four at a time in SIMD, the last
 * few in JS with `scalar`.
 */
function activationGrad(
  saved: 'x' | 'y',
  simd: 'tanhGrad' | 'reluGrad',
  scalar: (dy: number, v: number) => number,
): tf.KernelFunc {
  return ({ inputs, backend }) => {
    const b = backend as WasmHeapBackend;
    const dy = inputs.dy!;
    const v = inputs[saved]!;
    const out = b.makeOutput(v.shape, 'float32');
    const n = tf.util.sizeFromShape(v.shape);
    const vectorized = n - (n % 4);
    simdKernels(b)[simd](heapOffset(b, dy), heapOffset(b, v), heapOffset(b, out), vectorized / 4);
    const [g, values, dst] = [b.typedArrayFromHeap(dy), b.typedArrayFromHeap(v), b.typedArrayFromHeap(out)];
    for (let i = vectorized; i < n; i++) dst[i] = scalar(g[i]!, values[i]!);
    return out;
  };
}

/** Whether a pooling kernel's attributes and input are a 2×2, stride-2, unpadded window over even sides. */
function isPool2x2(attrs: tf.NamedAttrMap, x: tf.TensorInfo): boolean {
  const { filterSize, strides, pad } = attrs as unknown as {
    filterSize: number | number[];
    strides: number | number[];
    pad: unknown;
  };
  const two = (v: number | number[]) => (Array.isArray(v) ? v.every((n) => n === 2) : v === 2);
  const [, h, w] = x.shape;
  return two(filterSize) && two(strides) && pad === 'valid' && h! % 2 === 0 && w! % 2 === 0;
}

/** 2×2, stride-2 max pool (every pooling layer Birdgate builds) in SIMD; others fall back. */
function maxPool(original: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const x = args.inputs.x!;
    const [n, h, w, c] = x.shape as [number, number, number, number];
    if (x.dtype !== 'float32' || c % 4 !== 0 || !isPool2x2(args.attrs ?? {}, x)) return original(args);
    const b = args.backend as WasmHeapBackend;
    const out = b.makeOutput([n, h / 2, w / 2, c], 'float32');
    simdKernels(b).maxPool2x2(heapOffset(b, x), heapOffset(b, out), n * (h / 2) * (w / 2), w / 2, c);
    return out;
  };
}

/** The 2×2, stride-2 max pool's gradient; other pools fall back. */
function maxPoolGrad(original: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args;
    const dy = inputs.dy!;
    const x = inputs.input!;
    const [n, h, w, c] = x.shape as [number, number, number, number];
    if (!isPool2x2(attrs ?? {}, x)) return original(args);
    const b = backend as WasmHeapBackend;
    const out = b.makeOutput(x.shape, 'float32');
    if (c % 4 === 0) {
      // Four channels at a time in SIMD (simd-kernels.wat); it writes every element of dx.
      const windows = n * (h / 2) * (w / 2);
      simdKernels(b).maxPoolGrad2x2(
        heapOffset(b, x),
        heapOffset(b, dy),
        heapOffset(b, out),
        windows,
        w / 2,
        c,
      );
      return out;
    }
    const xs = b.typedArrayFromHeap(x);
    const gs = b.typedArrayFromHeap(dy);
    const dx = b.typedArrayFromHeap(out);
    dx.fill(0);
    const oh = h / 2;
    const ow = w / 2;
    const row = w * c;
    let g = 0;
    for (let img = 0; img < n; img++) {
      for (let oy = 0; oy < oh; oy++) {
        const top = (img * h + 2 * oy) * row;
        for (let ox = 0; ox < ow; ox++) {
          const base = top + 2 * ox * c;
          for (let ch = 0; ch < c; ch++, g++) {
            // The 2×2 window, unrolled; ties go to the first element in scan order, as in TensorFlow.
            const topLeft = base + ch;
            const topRight = topLeft + c;
            const bottomLeft = topLeft + row;
            const bottomRight = bottomLeft + c;
            let at = topLeft;
            if (xs[topRight]! > xs[at]!) at = topRight;
            if (xs[bottomLeft]! > xs[at]!) at = bottomLeft;
            if (xs[bottomRight]! > xs[at]!) at = bottomRight;
            dx[at]! += gs[g]!;
          }
        }
      }
    }
    return out;
  };
}

export function installJsKernels(
  replaceKernel: (name: string, wrap: (original: tf.KernelFunc) => tf.KernelFunc) => void,
) {
  replaceKernel('Tanh', () => tanhKernel);
  tf.registerKernel({
    kernelName: TANH_GRAD,
    backendName: 'wasm',
    kernelFunc: activationGrad('y', 'tanhGrad', (dy, y) => dy * (1 - y * y)),
  });
  tf.registerKernel({
    kernelName: RELU_GRAD,
    backendName: 'wasm',
    kernelFunc: activationGrad('x', 'reluGrad', (dy, x) => (x > 0 ? dy : 0)),
  });
  replaceKernel('MaxPool', maxPool);
  replaceKernel('MaxPoolGrad', maxPoolGrad);
  replaceKernel('Transpose', transpose4);
  replaceKernel('Sum', overLeadingAxes(false));
  replaceKernel('Mean', overLeadingAxes(true));
  replaceKernel('Multiply', perChannel(0));
  replaceKernel('Add', perChannel(1));
  replaceKernel('Sub', perChannel(2));
  replaceKernel('FusedBatchNorm', batchNorm);
  tf.registerKernel({ kernelName: BATCH_NORM_TRAINING, backendName: 'wasm', kernelFunc: batchNormTraining });
  tf.registerKernel({
    kernelName: BATCH_NORM_TRAINING_GRAD,
    backendName: 'wasm',
    kernelFunc: batchNormTrainingGrad,
  });
}

/** Whether `row` is one entry per channel of `full` ([C] or [1,…,1,C]), broadcast down its other axes. */
function isChannelRow(row: readonly number[], full: readonly number[]): boolean {
  const channels = full[full.length - 1]!;
  return (
    full.length >= 2 &&
    row.length <= full.length &&
    row[row.length - 1] === channels &&
    row.slice(0, -1).every((n) => n === 1)
  );
}

/**
 * Multiply, Add and Sub of NHWC activations with a per-channel vector (BatchNorm's statistics, scale and
 * gradients), in SIMD when the channels come in fours. The wasm kernels' broadcasting path costs ~3× their
 * same-shape path: 0.5 ms for a [32,32,32,16] tensor. Any other operands fall back.
 */
function perChannel(op: 0 | 1 | 2) {
  return (original: tf.KernelFunc): tf.KernelFunc =>
    (args) => {
      const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
      if (a.dtype !== 'float32' || b.dtype !== 'float32') return original(args);
      // a − b needs b as the row; × and + may take either side.
      const [full, row] = isChannelRow(b.shape, a.shape)
        ? [a, b]
        : op !== 2 && isChannelRow(a.shape, b.shape)
          ? [b, a]
          : [];
      const channels = full?.shape[full.shape.length - 1];
      if (!full || !row || !channels || channels % 4 !== 0) return original(args);
      const backend = args.backend as WasmHeapBackend;
      const out = backend.makeOutput(full.shape, 'float32');
      const rows = tf.util.sizeFromShape(full.shape) / channels;
      simdKernels(backend).channelBinary(
        heapOffset(backend, full),
        heapOffset(backend, row),
        heapOffset(backend, out),
        rows,
        channels / 4,
        op,
      );
      return out;
    };
}

/**
 * out = (x − mean)·k + offset, where k = scale/√(variance+ε) is folded first for each channel: one SIMD
 * pass over NHWC activations with 4·c4 channels.
 */
function normalise(
  backend: WasmHeapBackend,
  x: tf.TensorInfo,
  stats: { mean: tf.TensorInfo; variance: tf.TensorInfo; offset?: tf.TensorInfo; scale?: tf.TensorInfo },
  epsilon: number,
): tf.TensorInfo {
  const channels = x.shape[x.shape.length - 1]!;
  const out = backend.makeOutput(x.shape, 'float32');
  const folded = backend.makeOutput([2 * channels], 'float32');
  // Views taken after the allocations: the heap may have grown.
  const kd = backend.typedArrayFromHeap(folded);
  const v = backend.typedArrayFromHeap(stats.variance);
  const o = stats.offset && backend.typedArrayFromHeap(stats.offset);
  const g = stats.scale && backend.typedArrayFromHeap(stats.scale);
  for (let c = 0; c < channels; c++) {
    kd[c] = (g ? g[c]! : 1) / Math.sqrt(v[c]! + epsilon);
    kd[channels + c] = o ? o[c]! : 0;
  }
  const at = heapOffset(backend, folded);
  simdKernels(backend).channelAffine(
    heapOffset(backend, x),
    heapOffset(backend, stats.mean),
    at,
    at + 4 * channels,
    heapOffset(backend, out),
    tf.util.sizeFromShape(x.shape) / channels,
    channels / 4,
  );
  backend.disposeData(folded.dataId);
  return out;
}

/**
 * FusedBatchNorm with per-channel statistics (normalise above), where the wasm kernel took 2 ms for a
 * [32,32,32,16] tensor. Other shapes fall back.
 */
function batchNorm(original: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { x, mean, variance, offset, scale } = args.inputs as Record<string, tf.TensorInfo | undefined>;
    const { varianceEpsilon } = args.attrs as { varianceEpsilon: number };
    const channels = x!.shape[x!.shape.length - 1]!;
    const perChannelInputs = [mean!, variance!, offset, scale].filter((t) => t !== undefined);
    const fits =
      x!.dtype === 'float32' &&
      channels % 4 === 0 &&
      perChannelInputs.every((t) => t.dtype === 'float32' && isChannelRow(t.shape, x!.shape));
    if (!fits) return original(args);
    const stats = { mean: mean!, variance: variance!, offset, scale };
    return normalise(args.backend as WasmHeapBackend, x!, stats, varianceEpsilon);
  };
}

/**
 * BatchNorm's training pass (batch-norm.ts) on NHWC activations with channels in fours: the batch mean
 * (sumDownRows), variance (centredSquareSums) and the normalised output, three passes over x.
 */
const batchNormTraining: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, scale, offset } = inputs as Record<'x' | 'scale' | 'offset', tf.TensorInfo>;
  const { epsilon } = attrs as { epsilon: number };
  const b = backend as WasmHeapBackend;
  const channels = x.shape[x.shape.length - 1]!;
  const rows = tf.util.sizeFromShape(x.shape) / channels;
  const mean = b.makeOutput([channels], 'float32');
  const variance = b.makeOutput([channels], 'float32');
  sumDownRows(b, x, mean, true);
  simdKernels(b).centredSquareSums(
    heapOffset(b, x),
    heapOffset(b, mean),
    heapOffset(b, variance),
    rows,
    channels / 4,
  );
  const v = b.typedArrayFromHeap(variance);
  for (let c = 0; c < channels; c++) v[c] = v[c]! / rows;
  return [normalise(b, x, { mean, variance, offset, scale }, epsilon), mean, variance];
};

/**
 * Its gradient in two passes: the sums Σdy and Σdy·(x − mean) (centredDotSums), then
 * dx = γ/σ·(dy − Σdy/n − x̂·Σdy·x̂/n) with its per-channel factors folded (batchNormGrad).
 */
const batchNormTrainingGrad: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { dy, x, mean, variance, scale } = inputs as Record<
    'dy' | 'x' | 'mean' | 'variance' | 'scale',
    tf.TensorInfo
  >;
  const { epsilon } = attrs as { epsilon: number };
  const b = backend as WasmHeapBackend;
  const channels = x.shape[x.shape.length - 1]!;
  const n = tf.util.sizeFromShape(x.shape) / channels;
  const kernels = simdKernels(b);
  const sums = b.makeOutput([2 * channels], 'float32');
  const coef = b.makeOutput([3 * channels], 'float32');
  const [dScale, dOffset] = [b.makeOutput([channels], 'float32'), b.makeOutput([channels], 'float32')];
  const dx = b.makeOutput(x.shape, 'float32');
  kernels.centredDotSums(
    heapOffset(b, dy),
    heapOffset(b, x),
    heapOffset(b, mean),
    heapOffset(b, sums),
    n,
    channels / 4,
  );
  // Views taken after the allocations: the heap may have grown.
  const [s, k, v, g, ds, dof] = [sums, coef, variance, scale, dScale, dOffset].map((t) =>
    b.typedArrayFromHeap(t),
  ) as [Float32Array, Float32Array, Float32Array, Float32Array, Float32Array, Float32Array];
  for (let c = 0; c < channels; c++) {
    const rstd = 1 / Math.sqrt(v[c]! + epsilon);
    const gr = g[c]! * rstd;
    const [sumDy, sumDyCentred] = [s[c]!, s[channels + c]!];
    dof[c] = sumDy;
    ds[c] = sumDyCentred * rstd;
    k[c] = gr; // dy's factor
    k[channels + c] = (-gr * rstd * rstd * sumDyCentred) / n; // (x − mean)'s
    k[2 * channels + c] = (-gr * sumDy) / n; // the constant
  }
  kernels.batchNormGrad(
    heapOffset(b, dy),
    heapOffset(b, x),
    heapOffset(b, mean),
    heapOffset(b, coef),
    heapOffset(b, dx),
    n,
    channels / 4,
  );
  b.disposeData(sums.dataId);
  b.disposeData(coef.dataId);
  return [dx, dScale, dOffset];
};

/**
 * A float sum or mean over every axis but the last (the bias and BatchNorm gradients, BatchNorm's batch
 * statistics), when the last has a multiple of 4 entries: column sums in SIMD. The wasm kernels transpose
 * the reduced axes to the end first, which cost 1.1 ms for a [32,32,32,16] gradient. Others fall back.
 */
function overLeadingAxes(mean: boolean) {
  return (original: tf.KernelFunc): tf.KernelFunc =>
    (args) => {
      const { inputs, backend, attrs } = args;
      const x = inputs.x!;
      const { axis, keepDims } = attrs as { axis: number | number[]; keepDims: boolean };
      const rank = x.shape.length;
      const columns = x.shape[rank - 1]!;
      const axes = tf.util.parseAxisParam(axis, x.shape).sort((a, b) => a - b);
      const leading = rank > 1 && axes.length === rank - 1 && axes.every((a, i) => a === i);
      if (!leading || x.dtype !== 'float32' || columns === 0 || columns % 4 !== 0) return original(args);
      const b = backend as WasmHeapBackend;
      const out = b.makeOutput(keepDims ? [...axes.map(() => 1), columns] : [columns], 'float32');
      sumDownRows(b, x, out, mean);
      return out;
    };
}

/** Sums (or means) of x down its rows into `out`, one per entry of its last axis (a multiple of 4). */
function sumDownRows(b: WasmHeapBackend, x: tf.TensorInfo, out: tf.TensorInfo, mean: boolean): void {
  const columns = x.shape[x.shape.length - 1]!;
  const rows = tf.util.sizeFromShape(x.shape) / columns;
  simdKernels(b).sumRows(heapOffset(b, x), heapOffset(b, out), rows, columns / 4);
  if (mean) {
    const sums = b.typedArrayFromHeap(out);
    for (let j = 0; j < columns; j++) sums[j] = sums[j]! / rows;
  }
}

/**
 * Rank-4 transposes (the [n,h,w,c] ↔ [c,h,w,n] shuffles of the convolution gradients) as one JS pass:
 * the wasm kernel's generic index arithmetic is several times slower on them. Other ranks fall back.
 */
function transpose4(original: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args;
    const x = inputs.x!;
    const perm = (attrs as { perm: number[] }).perm;
    if (x.shape.length !== 4 || x.dtype !== 'float32') return original(args);
    const b = backend as WasmHeapBackend;
    const shape = x.shape as number[];
    const outShape = perm.map((p) => shape[p]!);
    const out = b.makeOutput(outShape, 'float32');
    const src = b.typedArrayFromHeap(x);
    const dst = b.typedArrayFromHeap(out);
    const inStrides = [shape[1]! * shape[2]! * shape[3]!, shape[2]! * shape[3]!, shape[3]!, 1];
    // Walk the output in order; step through the input by the permuted strides.
    const [s0, s1, s2, s3] = perm.map((p) => inStrides[p]!) as [number, number, number, number];
    const [d0, d1, d2, d3] = outShape as [number, number, number, number];
    let o = 0;
    for (let i0 = 0; i0 < d0; i0++) {
      for (let i1 = 0; i1 < d1; i1++) {
        for (let i2 = 0; i2 < d2; i2++) {
          let at = i0 * s0 + i1 * s1 + i2 * s2;
          if (s3 === 1 && d3 >= 256) {
            // The innermost axis stays innermost and rows are long: copy whole rows (a subarray and a set
            // cost ~0.1 µs each, more than a loop over a short row).
            dst.set(src.subarray(at, at + d3), o);
            o += d3;
          } else {
            for (let i3 = 0; i3 < d3; i3++, at += s3) dst[o++] = src[at]!;
          }
        }
      }
    }
    return out;
  };
}
