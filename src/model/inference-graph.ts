/**
 * A trained model's forward pass for inference only: each BatchNormalization folded into the conv or
 * dense layer before it, bias and ReLU fused into that layer's kernel, 3×3 convolutions by Winograd's
 * algorithm on wasm (with a 2×2 max pool after them fused in: winograd.ts), and none of tfjs-layers'
 * per-call bookkeeping. On the watcher's small batches that bookkeeping and the separate BatchNorm and
 * ReLU ops cost more than the convolutions (docs/benchmarks.md). Outputs equal `model.predict` to float
 * rounding (test/model.test.ts). Built from a snapshot of the weights: after they change, build another
 * (`predictBirdNow` does, for validation during training). An ensemble runs one graph per member and
 * averages their probabilities.
 */
import * as tf from '@tensorflow/tfjs';
import { membersOf } from './architectures.ts';
import { winogradApplies, winogradConv2d, winogradFilter } from './winograd.ts';

type Step = (x: tf.Tensor) => tf.Tensor;
/** What tf.fused ops apply in the same kernel; anything else runs as its own op after them. */
type FusedActivation = 'linear' | 'relu';

export interface InferenceGraph {
  /** Probabilities [n, classes] for a batch [n, 32, 32, 3]. */
  run(x: tf.Tensor4D): tf.Tensor2D;
  dispose(): void;
}

/** undefined when the model has a layer this does not know: the caller keeps using `model.predict`. */
export function inferenceGraph(model: tf.LayersModel): InferenceGraph | undefined {
  const members = membersOf(model);
  if (members.length === 1) return chainGraph(model.layers);
  if (model.layers.at(-1)?.getClassName() !== 'Average') return undefined;
  const graphs = members.map((member) => chainGraph(member.layers));
  if (graphs.some((graph) => !graph)) {
    graphs.forEach((graph) => graph?.dispose());
    return undefined;
  }
  return {
    run: (x) => tf.tidy(() => tf.div(tf.addN(graphs.map((graph) => graph!.run(x))), graphs.length)),
    dispose: () => graphs.forEach((graph) => graph!.dispose()),
  };
}

/** The graph of a chain of layers, each feeding the next. */
function chainGraph(layers: tf.layers.Layer[]): InferenceGraph | undefined {
  const steps: Step[] = [];
  const owned: tf.Tensor[] = [];
  const keep = <T extends tf.Tensor>(t: T) => (owned.push(tf.keep(t)), t);
  const className = (i: number) => layers[i]?.getClassName();
  const isPool2x2 = (i: number) => {
    if (className(i) !== 'MaxPooling2D') return false;
    const { poolSize, strides, padding } = layers[i]!.getConfig();
    const twos = (v: unknown) => Array.isArray(v) && v.every((s) => s === 2);
    return twos(poolSize) && (strides == null || twos(strides)) && padding === 'valid';
  };
  const isRelu = (i: number) =>
    (className(i) === 'ReLU' && layers[i]!.getConfig().maxValue == null) ||
    (className(i) === 'Activation' && layers[i]!.getConfig().activation === 'relu');

  const build = () => {
    for (let i = 0; i < layers.length; i++) {
      const layer = layers[i]!;
      const config = layer.getConfig();
      switch (layer.getClassName()) {
        case 'Conv2D':
        case 'Dense': {
          const [kernel, givenBias] = layer.getWeights();
          let w = kernel!;
          let b = givenBias ?? tf.zeros([w.shape[w.rank - 1]!]);
          let activation = String(config.activation ?? 'linear');
          if (activation === 'linear' && className(i + 1) === 'BatchNormalization') {
            [w, b] = foldBatchNorm(layers[++i]!, w, b);
          }
          if (activation === 'linear' && isRelu(i + 1)) {
            activation = 'relu';
            i++;
          }
          const fused: FusedActivation = activation === 'relu' ? 'relu' : 'linear';
          const after = fused === activation ? undefined : activationStep(activation);
          if (after === null) return false;
          const filter = keep(w.clone());
          const bias = keep(b.clone());
          if (layer.getClassName() === 'Conv2D' && winogradApplies(w.shape, config)) {
            const u = keep(winogradFilter(filter));
            // A 2×2 max pool right after is done by the convolution's last step (winograd.ts).
            const pool = !after && isPool2x2(i + 1);
            if (pool) i++;
            const attrs = { relu: fused === 'relu', pool };
            steps.push((x) =>
              winogradConv2d(x as tf.Tensor4D, u, filter as tf.Tensor4D, bias as tf.Tensor1D, attrs),
            );
          } else if (layer.getClassName() === 'Conv2D') {
            const strides = config.strides as [number, number];
            const dilations = config.dilationRate as [number, number];
            const pad = config.padding as 'same' | 'valid';
            steps.push((x) =>
              tf.fused.conv2d({
                x: x as tf.Tensor4D,
                filter: filter as tf.Tensor4D,
                bias,
                strides,
                pad,
                dilations,
                activation: fused,
              }),
            );
          } else {
            steps.push((x) =>
              tf.fused.matMul({ a: x as tf.Tensor2D, b: filter as tf.Tensor2D, bias, activation: fused }),
            );
          }
          if (after) steps.push(after);
          break;
        }
        case 'ReLU':
        case 'Activation': {
          const step = isRelu(i) ? tf.relu : activationStep(String(config.activation));
          if (!step) return false;
          steps.push(step);
          break;
        }
        case 'MaxPooling2D': {
          const size = config.poolSize as [number, number];
          const strides = (config.strides ?? size) as [number, number];
          const pad = config.padding as 'same' | 'valid';
          steps.push((x) => tf.maxPool(x as tf.Tensor4D, size, strides, pad));
          break;
        }
        case 'GlobalAveragePooling2D':
          steps.push((x) => tf.mean(x, [1, 2]));
          break;
        case 'Flatten':
          steps.push((x) => tf.reshape(x, [x.shape[0]!, -1]));
          break;
        case 'Softmax':
          steps.push((x) => tf.softmax(x));
          break;
        case 'Dropout':
          break;
        default:
          return false;
      }
    }
    return true;
  };

  const complete = tf.tidy(build);
  if (!complete) {
    tf.dispose(owned);
    return undefined;
  }
  return {
    run: (x) => tf.tidy(() => steps.reduce((t: tf.Tensor, step) => step(t), x) as tf.Tensor2D),
    dispose: () => tf.dispose(owned),
  };
}

/** y = γ(x·w + b − μ)/√(σ² + ε) + β = x·(w·s) + (b − μ)·s + β with s = γ/√(σ² + ε), per output channel. */
function foldBatchNorm(layer: tf.layers.Layer, w: tf.Tensor, b: tf.Tensor): [tf.Tensor, tf.Tensor] {
  const config = layer.getConfig();
  const byName = new Map(
    layer.weights.map((v, k) => [v.originalName.split('/').pop()!, layer.getWeights()[k]!]),
  );
  const channels = w.shape[w.rank - 1]!;
  const gamma = byName.get('gamma') ?? tf.ones([channels]);
  const beta = byName.get('beta') ?? tf.zeros([channels]);
  const scale = tf.div(gamma, tf.sqrt(tf.add(byName.get('moving_variance')!, Number(config.epsilon))));
  return [tf.mul(w, scale), tf.add(tf.mul(tf.sub(b, byName.get('moving_mean')!), scale), beta)];
}

/** Activations the fused kernels do not take; null for one this does not know. */
function activationStep(name: string): Step | null {
  if (name === 'linear') return (x) => x;
  if (name === 'tanh') return tf.tanh;
  if (name === 'relu') return tf.relu;
  if (name === 'softmax') return (x) => tf.softmax(x);
  return null;
}
