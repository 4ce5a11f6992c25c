import { Command, Option } from 'commander';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { Classifier } from '../../classify/classifier.ts';
import { BACKENDS, type BackendChoice } from '../../model/backend.ts';
import { isImageName } from '../../images/extensions.ts';

/** Files as given, folders walked recursively for image files, in a stable order. */
async function* expand(inputs: string[]): AsyncGenerator<string> {
  for (const input of inputs) {
    const info = await stat(input).catch(() => undefined);
    if (info?.isDirectory()) {
      const entries = await readdir(input, { recursive: true, withFileTypes: true });
      const files = entries
        .filter((e) => e.isFile() && isImageName(e.name))
        .map((e) => path.join(e.parentPath, e.name))
        .sort();
      yield* files;
    } else {
      yield input; // a missing file is reported as that file's error, not a crash
    }
  }
}

export function classifyCommand(): Command {
  return new Command('classify')
    .description('classify image files or folders (recursive) as bird or airplane')
    .argument('<paths...>', 'image files or folders')
    .option('--model <dir>', 'model folder (default: the active model, else the shipped one)')
    .addOption(new Option('--backend <name>', 'TensorFlow.js backend').choices(BACKENDS).default('auto'))
    .option('--json', 'one JSON line per image')
    .action(async (inputs: string[], opts) => {
      const classifier = await Classifier.load({
        modelDir: opts.model,
        backend: opts.backend as BackendChoice,
      });
      const files: string[] = [];
      for await (const file of expand(inputs)) files.push(file);
      let failures = 0;
      for await (const result of classifier.classifyFiles(files)) {
        if ('error' in result) {
          failures++;
          if (opts.json) console.log(JSON.stringify({ path: result.path, error: result.error.message }));
          else console.error(`${result.path}: error: ${result.error.message}`);
        } else {
          const { label, pBird } = result.decision;
          if (opts.json) console.log(JSON.stringify({ path: result.path, label, pBird }));
          else console.log(`${label.padEnd(8)} p(bird)=${pBird.toFixed(3)}  ${result.path}`);
        }
      }
      if (failures) process.exitCode = 2;
    });
}
