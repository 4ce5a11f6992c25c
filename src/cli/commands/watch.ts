import { Command, Option } from 'commander';
import path from 'node:path';
import { Classifier } from '../../classify/classifier.ts';
import { loadSettings, parseSettings, type Settings } from '../../config/settings.ts';
import { BACKENDS, type BackendChoice } from '../../model/backend.ts';
import type { Outcome } from '../../pipeline/ingest.ts';
import { Sorter } from '../../pipeline/sorter.ts';
import { openStore } from '../../store/store.ts';

/** Folders given on the command line replace the configured cameras for this run (named after the folder). */
function settingsFor(base: Settings, folders: string[], airplanes?: string): Settings {
  const cameras = folders.length
    ? folders.map((folder) => ({
        name: path.basename(path.resolve(folder)),
        folder: path.resolve(folder),
        enabled: true,
      }))
    : base.cameras;
  return parseSettings(
    { ...base, cameras, ...(airplanes ? { airplaneFolder: path.resolve(airplanes) } : {}) },
    'command line',
  );
}

function describe(outcome: Outcome): string {
  switch (outcome.kind) {
    case 'classified': {
      const p = `p(bird)=${outcome.pBird.toFixed(3)}`;
      if (outcome.move)
        return `${outcome.decision.padEnd(9)} ${p}  ${outcome.move.fromPath} → ${outcome.move.toPath}`;
      if (outcome.error)
        return `${outcome.decision.padEnd(9)} ${p}  ${outcome.image.path} (not moved: ${outcome.error})`;
      return `${outcome.decision.padEnd(9)} ${p}  ${outcome.image.path}`;
    }
    case 'duplicate':
      return `duplicate           ${outcome.image.path} (same bytes as image ${outcome.of})`;
    case 'unreadable':
      return `unreadable          ${outcome.error}`;
    case 'vanished':
      return `vanished            ${outcome.error}`;
    case 'skipped':
      return '';
  }
}

function toJson(outcome: Outcome): Record<string, unknown> {
  switch (outcome.kind) {
    case 'classified': {
      const { image, pBird, decision, move, error } = outcome;
      return {
        kind: 'classified',
        path: image.originalPath,
        status: image.status,
        pBird,
        decision,
        movedTo: move?.toPath,
        error,
      };
    }
    case 'duplicate':
      return { kind: 'duplicate', path: outcome.image.path, duplicateOf: outcome.of };
    case 'unreadable':
      return { kind: 'unreadable', path: outcome.image.path, error: outcome.error };
    default:
      return { kind: outcome.kind, ...('error' in outcome ? { error: outcome.error } : {}) };
  }
}

export function watchCommand(): Command {
  return new Command('watch')
    .description('watch camera folders: classify each new image, move airplanes away (Ctrl+C stops)')
    .argument('[folders...]', 'camera folders (default: the cameras in the settings)')
    .option('--airplanes <dir>', 'where airplanes go (default: from the settings)')
    .option('--config <file>', 'settings file (default: settings.json in the app data folder)')
    .option('--model <dir>', 'model folder (default: the active model, else the shipped one)')
    .addOption(new Option('--backend <name>', 'TensorFlow.js backend').choices(BACKENDS).default('auto'))
    .option('--json', 'one JSON line per image')
    .action(async (folders: string[], opts) => {
      const settings = settingsFor(await loadSettings(opts.config), folders, opts.airplanes);
      if (!settings.cameras.length)
        throw new Error('No camera folders: pass some, or add cameras to the settings');
      const store = await openStore();
      const classifier = await Classifier.load({
        modelDir: opts.model,
        backend: opts.backend as BackendChoice,
      });
      const sorter = new Sorter(store, classifier, settings);
      const summary = { images: 0, airplanes: 0, birds: 0, uncertain: 0, unreadable: 0, duplicates: 0 };
      const print = (line: string) => line && console.log(line);
      sorter.on('outcome', (outcome) => {
        if (outcome.kind === 'skipped' || outcome.kind === 'vanished')
          return void print(opts.json ? '' : describe(outcome));
        summary.images++;
        if (outcome.kind === 'classified')
          summary[
            outcome.decision === 'airplane'
              ? 'airplanes'
              : outcome.decision === 'bird'
                ? 'birds'
                : 'uncertain'
          ]++;
        else if (outcome.kind === 'unreadable') summary.unreadable++;
        else summary.duplicates++;
        if (opts.json) {
          console.log(JSON.stringify(toJson(outcome)));
        } else {
          print(describe(outcome));
          if (summary.images % 50 === 0)
            console.error(
              `[${Object.entries(summary)
                .map(([k, v]) => `${k} ${v}`)
                .join(', ')}]`,
            );
        }
      });
      sorter.on('retried', (move) => print(`moved (retry)       ${move.fromPath} → ${move.toPath}`));
      sorter.on('status', (state) =>
        console.error(
          `camera ${state.camera}: ${state.status}${state.detail ? ` (${state.detail})` : ''} ${state.folder}`,
        ),
      );
      sorter.on('error', (error, job) => console.error(`error ${job?.file ?? ''}: ${error.message}`));
      await sorter.start();
      console.error(
        `Watching ${settings.cameras.map((c) => c.folder).join(', ')}; airplanes go to ${settings.airplaneFolder}. Ctrl+C stops.`,
      );
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      console.error('Stopping: finishing the images in progress…');
      await sorter.close();
      store.close();
      console.error(
        `Done: ${Object.entries(summary)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')}`,
      );
    });
}
