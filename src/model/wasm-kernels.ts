/**
 * Training kernels for tfjs-backend-wasm, built from the backend's own fast kernels.
 *
 * The wasm backend has no Conv2DBackpropFilter at all, and its matmul is ~70× slower when asked to
 * transpose an operand (the form every dense-layer gradient uses). Both are rewritten here in terms of
 * kernels XNNPACK runs fast: see docs/training-speed.md for the measurements behind each choice.
 */
import * as tf from '@tensorflow/tfjs';
import { directConvFits, directConvOnHeap } from './direct-conv.ts';
import { installJsKernels } from './js-kernels.ts';
import { heapOffset, simdKernels, type WasmHeapBackend } from './simd-kernels.ts';
import {
  allOnes,
  winogradFilterGradient,
  winogradFits,
  winogradInputGradient,
  winogradOnHeap,
} from './winograd.ts';

type Inputs = Record<string, tf.TensorInfo>;
type Shape4 = [number, number, number, number];
/** The attributes both convolution-gradient kernels receive. */
interface ConvGradientAttrs {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  dataFormat: 'NHWC' | 'NCHW';
}

/** One pixel of padding on every side: for a 3×3 filter, 'same' (what Winograd's kernels take). */
const paddedByOne = ({ padInfo: { top, bottom, left, right } }: tf.backend_util.Conv2DInfo) =>
  [top, bottom, left, right].every((p) => p === 1);

function run(
  name: string,
  inputs: Inputs,
  backend: WasmHeapBackend,
  attrs: tf.NamedAttrMap = {},
): tf.TensorInfo {
  const kernel = tf.getKernel(name, 'wasm');
  if (!kernel) throw new Error(`wasm backend lacks the ${name} kernel`);
  return kernel.kernelFunc({ inputs, backend, attrs }) as tf.TensorInfo;
}

/** Runs `body` and frees every intermediate it registered, keeping only the returned tensor. */
function scoped(
  backend: WasmHeapBackend,
  body: (keep: (t: tf.TensorInfo) => tf.TensorInfo) => tf.TensorInfo,
) {
  const temps: tf.TensorInfo[] = [];
  const result = body((t) => (temps.push(t), t));
  for (const t of temps) if (t !== result) backend.disposeData(t.dataId);
  return result;
}

/** Conv2D's explicit padding attribute for an NHWC tensor. */
function explicitPadding(top: number, bottom: number, left: number, right: number) {
  const pad = [
    [0, 0],
    [top, bottom],
    [left, right],
    [0, 0],
  ];
  return pad as unknown as tf.NamedAttrMap[string];
}

/**
 * The filter gradient of a stride-1 convolution with output channels in eights (every convolution Birdgate
 * trains) in WebAssembly SIMD (simd-kernels.wat: filterGradient), on the input padded at its sides. XNNPACK,
 * asked through conv2DBackpropFilter below, repacks the whole of dy as a filter on every call.
 */
function simdFilterGradient(
  x: tf.TensorInfo,
  dy: tf.TensorInfo,
  info: tf.backend_util.Conv2DInfo,
  b: WasmHeapBackend,
): tf.TensorInfo | undefined {
  const { batchSize: n, inHeight, inWidth, inChannels: ci, outHeight, outWidth, outChannels: co } = info;
  const { filterHeight: kh, filterWidth: kw, padInfo } = info;
  const paddedWidth = outWidth + kw - 1;
  const copied = Math.min(inWidth, paddedWidth - padInfo.left);
  const strided = info.strideHeight !== 1 || info.strideWidth !== 1;
  if (strided || co % 8 !== 0 || padInfo.left < 0 || padInfo.top < 0 || copied <= 0) return undefined;
  const padded = b.makeOutput([n * inHeight * paddedWidth * ci], 'float32');
  const out = b.makeOutput(info.filterShape, 'float32');
  const kernels = simdKernels(b);
  const pixel = 4 * ci;
  kernels.padColumns(
    heapOffset(b, x),
    heapOffset(b, padded),
    n * inHeight,
    inWidth * pixel,
    paddedWidth * pixel,
    padInfo.left * pixel,
    copied * pixel,
  );
  kernels.filterGradient(
    heapOffset(b, padded),
    heapOffset(b, dy),
    heapOffset(b, out),
    n,
    outHeight,
    outWidth,
    inHeight,
    ci,
    co,
    kh,
    kw,
    padInfo.top,
  );
  b.disposeData(padded.dataId);
  return out;
}

/**
 * dW[kh,kw,ci,co] = Σ x[n, s·y+kh−pad, s·x+kw−pad, ci] · dy[n,y,x,co] is itself a convolution: treat the
 * batch as channels, x (as [ci,H,W,n], padded by the convolution itself) as the image and dy (as
 * [h,w,n,co]) as the filter, dilated by the stride. One XNNPACK convolution replaces the missing kernel
 * where the SIMD one above does not apply.
 */
const conv2DBackpropFilter: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const { strides, pad, dimRoundingMode, filterShape, dataFormat } = attrs as unknown as ConvGradientAttrs & {
    filterShape: Shape4;
  };
  if (dataFormat !== 'NHWC') throw new Error('Conv2DBackpropFilter on wasm supports NHWC only');
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as Shape4,
    filterShape,
    strides,
    1,
    pad,
    dimRoundingMode,
  );
  const b = backend as WasmHeapBackend;
  if (
    paddedByOne(info) &&
    allOnes([info.strideHeight, info.strideWidth]) &&
    winogradFits(x.shape, filterShape)
  ) {
    return winogradFilterGradient(b, x, dy, filterShape[3]);
  }
  const simd = simdFilterGradient(x, dy, info, b);
  if (simd) return simd;
  return scoped(b, (keep) => {
    const image = keep(run('Transpose', { x }, b, { perm: [3, 1, 2, 0] }));
    const filter = keep(run('Transpose', { x: dy }, b, { perm: [1, 2, 0, 3] }));
    const { top, bottom, left, right } = info.padInfo;
    const full = keep(
      run('Conv2D', { x: image, filter }, b, {
        strides: [1, 1],
        pad: explicitPadding(top, bottom, left, right),
        dataFormat: 'NHWC',
        dilations: [info.strideHeight, info.strideWidth],
        dimRoundingMode: undefined as unknown as string,
      }),
    );
    // With a stride the valid output can be a row or column larger than the filter; drop the excess.
    const [, fh, fw] = full.shape as number[];
    const cropped =
      fh === info.filterHeight && fw === info.filterWidth
        ? full
        : keep(
            run('Slice', { x: full }, b, {
              begin: [0, 0, 0, 0],
              size: [info.inChannels, info.filterHeight, info.filterWidth, info.outChannels],
            }),
          );
    return run('Transpose', { x: cropped }, b, { perm: [1, 2, 0, 3] });
  });
};

/** A convolution named by its input's and its filter's shapes. */
export interface ConvolutionShapes {
  inputShape: number[];
  filterShape: number[];
}

/** The convolution whose input gradient nobody will read (see below). */
let unreadInputGradient: ConvolutionShapes | undefined;

/**
 * Runs `fn` telling the wasm backend that the input gradient of the convolution with these shapes is never
 * read: a model's first convolution, whose input is the batch of images. tfjs's fused convolution computes
 * its input's gradient eagerly even when nothing asks for it; for the book's CNN that was 13 % of a training
 * step. Within `fn` that gradient comes back as zeros. (By shape, because tfjs hands the kernel a copy of
 * the filter, not the layer's variable.)
 */
export function withUnreadInputGradient<T>(convolution: ConvolutionShapes | undefined, fn: () => T): T {
  unreadInputGradient = convolution;
  try {
    return fn();
  } finally {
    unreadInputGradient = undefined;
  }
}

const sameShape = (a: readonly number[], b: readonly number[]) =>
  a.length === b.length && a.every((n, i) => n === b[i]);

/**
 * For stride 1, dx is the forward convolution of dy with the filter rotated 180° and its channel axes
 * swapped, padded by (filter − 1 − original padding). The wasm backend's own Conv2DBackpropInput is a
 * scalar loop ~40× slower than XNNPACK's forward convolution, so strided cases alone keep it.
 */
function fastConv2DBackpropInput(original: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args;
    const { dy, filter } = inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
    const { strides, pad, dimRoundingMode, inputShape, dataFormat } =
      attrs as unknown as ConvGradientAttrs & {
        inputShape: Shape4;
      };
    const unread = unreadInputGradient;
    if (unread && sameShape(inputShape, unread.inputShape) && sameShape(filter.shape, unread.filterShape)) {
      return run('Fill', {}, backend as WasmHeapBackend, { shape: inputShape, value: 0, dtype: 'float32' });
    }
    const info = tf.backend_util.computeConv2DInfo(
      inputShape,
      filter.shape as Shape4,
      strides,
      1,
      pad,
      dimRoundingMode,
    );
    if (dataFormat !== 'NHWC' || info.strideHeight !== 1 || info.strideWidth !== 1) return original(args);
    const b = backend as WasmHeapBackend;
    // A 3×3 'same' convolution stays one after the rotation: Winograd's, where its shapes suit it.
    const [kh, kw, ci, co] = filter.shape as Shape4;
    if (paddedByOne(info) && winogradFits(dy.shape, [kh, kw, co, ci]))
      return winogradInputGradient(b, dy, filter);
    const { top, bottom, left, right } = info.padInfo;
    return scoped(b, (keep) => {
      const rotated = keep(run('Reverse', { x: filter }, b, { dims: [0, 1] }));
      const swapped = keep(run('Transpose', { x: rotated }, b, { perm: [0, 1, 3, 2] }));
      const k = (n: number, p: number) => n - 1 - p;
      return run('Conv2D', { x: dy, filter: swapped }, b, {
        strides: [1, 1],
        pad: explicitPadding(
          k(info.filterHeight, top),
          k(info.filterHeight, bottom),
          k(info.filterWidth, left),
          k(info.filterWidth, right),
        ),
        dataFormat: 'NHWC',
        dilations: [1, 1],
        dimRoundingMode: undefined as unknown as string,
      });
    });
  };
}

/**
 * Convolutions as tfjs-layers trains them and the inference graph runs them (FusedConv2D: bias, ReLU or
 * nothing after), for 3×3, stride 1, 'same': by Winograd's F(4×4, 3×3) where the channels are in fours
 * and eights (winograd.ts), directly where the input has few channels (direct-conv.ts).
 */
function fastFusedConv2D(original: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { x, filter, bias, preluActivationWeights } = args.inputs as Record<
      string,
      tf.TensorInfo | undefined
    >;
    const { strides, pad, dataFormat, dilations, activation } = args.attrs as Record<string, unknown>;
    const fits =
      dataFormat === 'NHWC' &&
      pad === 'same' &&
      allOnes(strides) &&
      allOnes(dilations) &&
      !preluActivationWeights &&
      (activation === 'linear' || activation === 'relu');
    const b = args.backend as WasmHeapBackend;
    const relu = activation === 'relu';
    if (fits && winogradFits(x!.shape, filter!.shape)) return winogradOnHeap(b, x!, filter!, bias, relu);
    if (fits && directConvFits(x!.shape, filter!.shape)) return directConvOnHeap(b, x!, filter!, bias, relu);
    return original(args);
  };
}

/** Wraps a matmul kernel so transposed operands are transposed explicitly first (fast path only). */
function withExplicitTranspose(original: tf.KernelFunc): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const { transposeA, transposeB } = attrs as { transposeA: boolean; transposeB: boolean };
    if (!transposeA && !transposeB) return original({ inputs, backend, attrs });
    const b = backend as WasmHeapBackend;
    return scoped(b, (keep) => {
      const flip = (t: tf.TensorInfo) => {
        const perm = t.shape.map((_, i) => i);
        const n = perm.length;
        [perm[n - 2], perm[n - 1]] = [perm[n - 1]!, perm[n - 2]!];
        return keep(run('Transpose', { x: t }, b, { perm }));
      };
      const a = transposeA ? flip(inputs.a!) : inputs.a!;
      const bb = transposeB ? flip(inputs.b!) : inputs.b!;
      return original({
        inputs: { ...inputs, a, b: bb },
        backend,
        attrs: { ...attrs, transposeA: false, transposeB: false },
      }) as tf.TensorInfo;
    });
  };
}

/**
 * Identity without a copy: the result shares the input's data, as the wasm backend's own Reshape does. No
 * kernel writes into its inputs, so a shared buffer is never changed under anyone. tfjs's custom gradients
 * (every fused convolution and matmul) clone their inputs through Identity: 34 copies per book-cnn step.
 */
function sharedIdentity(original: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const x = args.inputs.x!;
    if (x.dtype === 'string') return original(args);
    (args.backend as WasmHeapBackend).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
}

function replaceKernel(kernelName: string, wrap: (original: tf.KernelFunc) => tf.KernelFunc): void {
  const existing = tf.getKernel(kernelName, 'wasm');
  if (!existing) throw new Error(`wasm backend lacks the ${kernelName} kernel`);
  tf.unregisterKernel(kernelName, 'wasm');
  tf.registerKernel({ ...existing, kernelFunc: wrap(existing.kernelFunc) });
}

let installed = false;

/** Registers the training kernels once; safe to call before or after the wasm backend initialises. */
export function installWasmTrainingKernels(): void {
  if (installed) return;
  installed = true;
  if (!tf.getKernel('Conv2DBackpropFilter', 'wasm')) {
    tf.registerKernel({
      kernelName: 'Conv2DBackpropFilter',
      backendName: 'wasm',
      kernelFunc: conv2DBackpropFilter,
    });
  }
  replaceKernel('Conv2DBackpropInput', fastConv2DBackpropInput);
  replaceKernel('FusedConv2D', fastFusedConv2D);
  replaceKernel('Identity', sharedIdentity);
  replaceKernel('BatchMatMul', withExplicitTranspose);
  replaceKernel('_FusedMatMul', withExplicitTranspose);
  installJsKernels(replaceKernel);
}
