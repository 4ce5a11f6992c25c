import { Command, Option } from 'commander';
import { loadCifar } from '../../data/cifar.ts';
import {
  ARCHITECTURES,
  buildModel,
  DEFAULT_CNN_MEMBERS,
  DEFAULT_CNN_WIDTHS,
  type Architecture,
} from '../../model/architectures.ts';
import { BACKENDS, selectBackend, type BackendChoice } from '../../model/backend.ts';
import { saveModel } from '../../model/model-files.ts';
import { SAMPLINGS, type Sampling } from '../../train/hard-examples.ts';
import { DEFAULT_WEIGHT_DECAY } from '../../train/optimizers.ts';
import { metadataOfRun } from '../../train/run-metadata.ts';
import { SCHEDULES, type Schedule } from '../../train/schedule.ts';
import { DEFAULT_BATCH_SIZE, runLength, train, type OptimizerName } from '../../train/trainer.ts';
import { progressBar } from '../progress.ts';
import { integer, number } from '../parse.ts';

const DEFAULT_EPOCHS = 50;

export function trainCommand(): Command {
  return new Command('train')
    .description('train a bird/airplane model on CIFAR-10 and save it to a folder')
    .requiredOption('--data <dir|archive>', 'CIFAR-10 binary folder or cifar-10-binary.tar.gz')
    .requiredOption('--out <dir>', 'model folder to write')
    .addOption(new Option('--arch <arch>', 'architecture').choices(ARCHITECTURES).default('cnn'))
    .option(
      '--widths <list>',
      `cnn only: each model's channels at 32×32, then the width each smaller size widens to (default: ${DEFAULT_CNN_WIDTHS.join(',')})`,
      (v) => v.split(',').map(integer),
    )
    .option(
      '--members <n>',
      `models trained side by side whose probabilities are averaged (default: ${DEFAULT_CNN_MEMBERS} for cnn, 1 otherwise)`,
      integer,
    )
    .option(
      '--epochs <n>',
      `epochs, after the second of half the images unless --sampling all (default: ${DEFAULT_EPOCHS}; with --minutes, as many as fit)`,
      integer,
    )
    .option(
      '--minutes <m>',
      'a time budget: the learning rate follows the clock and training stops when it is spent (the run then depends on the machine, not only on --seed)',
      number,
    )
    .option('--batch-size <n>', 'minibatch size', integer, DEFAULT_BATCH_SIZE)
    .addOption(new Option('--optimizer <name>', 'optimizer').choices(['adam', 'sgd']).default('adam'))
    .option('--lr <rate>', 'peak learning rate (default: adam 2e-3, sgd 1e-2)', number)
    .option(
      '--weight-decay <d>',
      `decoupled weight decay of the kernels (default: adam ${DEFAULT_WEIGHT_DECAY.adam}, sgd ${DEFAULT_WEIGHT_DECAY.sgd})`,
      number,
    )
    .addOption(
      new Option('--schedule <name>', 'learning-rate schedule').choices(SCHEDULES).default('one-cycle'),
    )
    .option('--no-augment', 'turn off random crop and flip')
    .addOption(
      new Option('--sampling <how>', 'after two epochs, train each epoch on the harder half (hard) or on all')
        .choices(SAMPLINGS)
        .default('hard'),
    )
    .option('--seed <n>', 'random seed (shuffle, augmentation, initial weights)', integer, 1)
    .option(
      '--workers <n>',
      'training threads: replicas of one model, or one per member (default: 2 on two cores, 1 for large models)',
      integer,
    )
    .addOption(new Option('--backend <name>', 'TensorFlow.js backend').choices(BACKENDS).default('auto'))
    .option('--json', 'print one JSON line per epoch instead of a progress bar')
    .action(async (opts) => {
      const backend = await selectBackend(opts.backend as BackendChoice);
      const [trainSet, validationSet] = await Promise.all([
        loadCifar(opts.data, 'train'),
        loadCifar(opts.data, 'test'),
      ]);
      const { setSeed } = await import('../../model/seed.ts');
      setSeed(opts.seed);
      const model = buildModel(opts.arch as Architecture, opts.widths, opts.members);
      const bar = opts.json
        ? undefined
        : progressBar(
            'training',
            '{bar} {percentage}% | epoch {epoch} | loss {loss} | val {val} | {rate}/s | ETA {eta_formatted}',
          );
      let lastVal = '-';
      const abort = new AbortController();
      process.once('SIGINT', () => abort.abort());
      const weightDecay: number = opts.weightDecay ?? DEFAULT_WEIGHT_DECAY[opts.optimizer as OptimizerName];
      const { epochs, minutes } = runLength(opts, { epochs: DEFAULT_EPOCHS });
      const result = await train(model, trainSet, validationSet, {
        epochs,
        minutes,
        batchSize: opts.batchSize,
        optimizer: opts.optimizer as OptimizerName,
        learningRate: opts.lr,
        weightDecay,
        schedule: opts.schedule as Schedule,
        augment: opts.augment,
        sampling: opts.sampling as Sampling,
        seed: opts.seed,
        workers: opts.workers,
        signal: abort.signal,
        onEvent: (event) => {
          if (event.type === 'batch' && bar) {
            bar.update(event.step, event.totalSteps, {
              epoch: Number.isFinite(epochs) ? `${event.epoch + 1}/${epochs}` : event.epoch + 1,
              loss: event.loss.toFixed(3),
              val: lastVal,
              rate: Math.round(event.samplesPerSec),
            });
          } else if (event.type === 'epoch') {
            lastVal = event.validationAccuracy.toFixed(4);
            if (opts.json) console.log(JSON.stringify(event));
          }
        },
      });
      bar?.stop();
      await saveModel(
        model,
        opts.out,
        metadataOfRun(result, {
          architecture: opts.arch,
          training: {
            data: 'CIFAR-10 airplane+bird',
            trainImages: trainSet.count,
            validationImages: validationSet.count,
            seed: opts.seed,
            backend,
            optimizer: `${opts.optimizer} ${opts.schedule}, weight decay ${weightDecay}`,
            minutes,
            command: `birdgate train ${process.argv.slice(3).join(' ')}`,
          },
        }),
      );
      const summary = {
        out: opts.out,
        validationAccuracy: result.validation.accuracy,
        bestEpoch: result.bestEpoch + 1,
        cancelled: result.cancelled,
        durationSec: Math.round(result.durationSec),
        samplesPerSec: Math.round(result.samplesPerSec),
        backend,
      };
      console.log(
        opts.json
          ? JSON.stringify(summary)
          : `Saved ${opts.out}: validation accuracy ${summary.validationAccuracy.toFixed(4)} (best epoch ${summary.bestEpoch}, ${summary.durationSec}s on ${backend})`,
      );
    });
}
