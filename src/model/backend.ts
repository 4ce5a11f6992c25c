/**
 * Picks the TensorFlow.js backend. `auto` prefers tfjs-node (native libtensorflow, an optional install that
 * often cannot download), then wasm (XNNPACK, installs from npm everywhere), then the pure-JS cpu backend.
 */
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { createRequire } from 'node:module';
import path from 'node:path';
import { installGradients } from './gradients.ts';
import { installWasmTrainingKernels } from './wasm-kernels.ts';
import { installWinogradKernel } from './winograd.ts';

export const BACKENDS = ['auto', 'tensorflow', 'wasm', 'cpu'] as const;
export type BackendChoice = (typeof BACKENDS)[number];

const require = createRequire(import.meta.url);

async function tryNode(): Promise<boolean> {
  try {
    await import('@tensorflow/tfjs-node' as string);
    return tf.findBackend('tensorflow') !== undefined || tf.engine().registryFactory.tensorflow !== undefined;
  } catch {
    return false;
  }
}

async function activate(name: string): Promise<boolean> {
  if (name === 'tensorflow' && !(await tryNode())) return false;
  if (name === 'wasm') {
    // Point the loader at the package's own .wasm files; under Node it otherwise guesses from the cwd.
    setWasmPaths(
      path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm')) + '/',
    );
    installWasmTrainingKernels();
    installWinogradKernel();
  }
  try {
    return await tf.setBackend(name);
  } catch {
    return false;
  }
}

/** Sets the backend and returns the one in use. A named backend that cannot load is an error. */
export async function selectBackend(choice: BackendChoice = 'auto'): Promise<string> {
  tf.enableProdMode(); // silences tfjs's console banners, which would otherwise mix into CLI output
  installGradients();
  const candidates = choice === 'auto' ? ['tensorflow', 'wasm', 'cpu'] : [choice];
  for (const name of candidates) {
    if (tf.getBackend() === name) return name;
    if (await activate(name)) {
      await tf.ready();
      return name;
    }
  }
  throw new Error(`TensorFlow.js backend '${choice}' could not be loaded on this machine`);
}
