import * as tf from '@tensorflow/tfjs';

export type OptimizerName = 'adam' | 'sgd';

export const DEFAULT_LEARNING_RATE: Record<OptimizerName, number> = { adam: 2e-3, sgd: 1e-2 };

export function makeOptimizer(name: OptimizerName): tf.Optimizer {
  const rate = DEFAULT_LEARNING_RATE[name];
  return name === 'adam' ? tf.train.adam(rate) : tf.train.sgd(rate);
}

/** tfjs optimizers read their rate on every step but expose no setter for it. */
export function setLearningRate(optimizer: tf.Optimizer, rate: number): void {
  (optimizer as unknown as { learningRate: number }).learningRate = rate;
}
