/** Model versions for tests that need an active model but not a trained one (startup, IPC, serving). */
import { buildModel } from '../../src/model/architectures.ts';
import { selectBackend } from '../../src/model/backend.ts';
import { newMetadata, saveModel } from '../../src/model/model-files.ts';
import { activateVersion, nextVersionDir } from '../../src/model/registry.ts';

/** Saves an untrained MLP as a new version under $BIRDGATE_HOME and makes it the active one. */
export async function activateUntrainedModel(): Promise<void> {
  await selectBackend('wasm');
  const { id, dir } = await nextVersionDir();
  await saveModel(
    buildModel('mlp'),
    dir,
    newMetadata({
      architecture: 'mlp',
      training: {
        data: 'untrained (test)',
        trainImages: 0,
        validationImages: 0,
        epochs: 0,
        bestEpoch: 0,
        seed: 1,
        backend: 'wasm',
        optimizer: 'adam',
        durationSec: 0,
      },
      metrics: { validationAccuracy: 0.5 },
    }),
  );
  await activateVersion(id);
}
