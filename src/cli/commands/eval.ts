import { Command, Option } from 'commander';
import { loadCifar } from '../../data/cifar.ts';
import { BACKENDS, selectBackend, type BackendChoice } from '../../model/backend.ts';
import { resolveModelDir } from '../../model/locate.ts';
import { loadModel } from '../../model/model-files.ts';
import { evaluate } from '../../train/trainer.ts';

export function evalCommand(): Command {
  return new Command('eval')
    .description("measure a model's accuracy on CIFAR-10's held-out test split")
    .option('--model <dir>', 'model folder (default: the active model, else the shipped one)')
    .requiredOption('--data <dir|archive>', 'CIFAR-10 binary folder or cifar-10-binary.tar.gz')
    .addOption(new Option('--backend <name>', 'TensorFlow.js backend').choices(BACKENDS).default('auto'))
    .option('--json', 'print one JSON object')
    .action(async (opts) => {
      const backend = await selectBackend(opts.backend as BackendChoice);
      const dir = resolveModelDir(opts.model);
      const [{ model, metadata }, data] = await Promise.all([loadModel(dir), loadCifar(opts.data, 'test')]);
      const metrics = evaluate(model, data);
      if (opts.json) {
        console.log(JSON.stringify({ model: dir, architecture: metadata.architecture, backend, ...metrics }));
        return;
      }
      const [[aa, ab], [ba, bb]] = metrics.confusion;
      console.log(`model      ${dir} (${metadata.architecture}, ${backend})`);
      console.log(`accuracy   ${metrics.accuracy.toFixed(4)} on ${metrics.n} images`);
      console.log(`confusion  true airplane → airplane ${aa}, bird ${ab}`);
      console.log(`           true bird     → airplane ${ba}, bird ${bb}`);
      for (const [name, m] of Object.entries(metrics.perClass)) {
        console.log(`${name.padEnd(10)} precision ${m.precision.toFixed(4)}  recall ${m.recall.toFixed(4)}`);
      }
      console.log(`calibration error (ECE) ${metrics.calibrationError.toFixed(4)}`);
    });
}
