import { Command } from 'commander';
import { cifarSource } from '../../app/app.ts';
import { selectBackend } from '../../model/backend.ts';
import { retrain, RETRAIN_DEFAULTS } from '../../retrain/retrain.ts';
import { openStore } from '../../store/store.ts';
import { progressBar } from '../progress.ts';
import { integer, number } from '../parse.ts';

const percent = (v: number | null | undefined) =>
  v === null || v === undefined ? '–' : `${(v * 100).toFixed(1)}%`;

export function retrainCommand(): Command {
  return new Command('retrain')
    .description('train a new model version on CIFAR plus your corrected images (it is not activated)')
    .option('--from-scratch', 'start from random weights instead of fine-tuning the active model')
    .option(
      '--epochs <n>',
      `epochs (default: fine-tune ${RETRAIN_DEFAULTS['fine-tune'].length.epochs}, from scratch as many as fit the minutes)`,
      integer,
    )
    .option(
      '--minutes <m>',
      `a time budget: training stops when it is spent (default: from scratch ${RETRAIN_DEFAULTS.scratch.length.minutes})`,
      number,
    )
    .option('--data <dir|archive>', 'CIFAR-10 (default: the downloaded copy in the app data folder)')
    .option(
      '--workers <n>',
      'data-parallel training threads (default: 2 on two cores, 1 for large models)',
      integer,
    )
    .option('--json', 'print one JSON object at the end')
    .action(async (opts) => {
      const backend = await selectBackend('auto');
      const store = await openStore();
      const labeled = store.labeledImages();
      store.close();
      const bar = opts.json
        ? undefined
        : progressBar('training', '{bar} {percentage}% | loss {loss} | ETA {eta_formatted}');
      const abort = new AbortController();
      process.once('SIGINT', () => abort.abort());
      const result = await retrain({
        mode: opts.fromScratch ? 'scratch' : 'fine-tune',
        epochs: opts.epochs,
        minutes: opts.minutes,
        cifar: opts.data ?? cifarSource(),
        labeled,
        workers: opts.workers,
        backend,
        signal: abort.signal,
        onEvent: (e) => {
          if (e.type === 'batch') bar?.update(e.step, e.totalSteps, { loss: e.loss.toFixed(3) });
        },
      });
      bar?.stop();
      const { candidate, previous, evaluation, disagreements, notes, durationSec } = result;
      if (opts.json) {
        return console.log(
          JSON.stringify({
            candidate: { id: candidate.id, name: candidate.name },
            previous: { id: previous.id, name: previous.name },
            cifarAccuracy: {
              previous: evaluation.previous.cifar.accuracy,
              candidate: evaluation.candidate.cifar.accuracy,
            },
            localAccuracy: {
              previous: evaluation.previous.local?.accuracy ?? null,
              candidate: evaluation.candidate.local?.accuracy ?? null,
              n: evaluation.candidate.local?.n ?? 0,
            },
            disagreements: disagreements.length,
            notes,
            durationSec,
          }),
        );
      }
      for (const note of notes) console.log(note);
      console.log(`New version ${candidate.name} (not active) in ${durationSec.toFixed(0)} s`);
      console.log(
        `  CIFAR validation: ${percent(evaluation.previous.cifar.accuracy)} (${previous.name}) → ${percent(evaluation.candidate.cifar.accuracy)}`,
      );
      console.log(
        `  local holdout:    ${percent(evaluation.previous.local?.accuracy)} → ${percent(evaluation.candidate.local?.accuracy)} on ${evaluation.candidate.local?.n ?? 0} images`,
      );
      console.log(`  the two models disagree on ${disagreements.length} held-out image(s)`);
      console.log(`Use it with: birdgate models activate ${candidate.id}`);
    });
}
