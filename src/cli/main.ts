/** The `birdgate` command line: parses arguments and calls the core; no logic of its own. */
import { Command } from 'commander';
import { appCommand } from './commands/app.ts';
import { classifyCommand } from './commands/classify.ts';
import { dataCommand } from './commands/data.ts';
import { evalCommand } from './commands/eval.ts';
import { exportCommand } from './commands/export.ts';
import { modelsCommand } from './commands/models.ts';
import { retrainCommand } from './commands/retrain.ts';
import { serveCommand } from './commands/serve.ts';
import { statusCommand } from './commands/status.ts';
import { undoCommand } from './commands/undo.ts';
import { watchCommand } from './commands/watch.ts';
import { trainCommand } from './commands/train.ts';

const program = new Command('birdgate')
  .description('Watches camera folders, tells birds from airplanes, moves airplanes away.')
  .showHelpAfterError();
const commands = [
  watchCommand(),
  serveCommand(),
  appCommand(),
  classifyCommand(),
  statusCommand(),
  undoCommand(),
  exportCommand(),
  dataCommand(),
  trainCommand(),
  retrainCommand(),
  modelsCommand(),
  evalCommand(),
];
for (const command of commands) program.addCommand(command);

program.parseAsync(process.argv).catch((error: Error) => {
  console.error(`birdgate: ${error.message}`);
  if (process.env.BIRDGATE_DEBUG) console.error(error.stack);
  process.exitCode = 1;
});
