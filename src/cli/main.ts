/** The `birdgate` command line: parses arguments and calls the core; no logic of its own. */
import { Command } from 'commander';
import { classifyCommand } from './commands/classify.ts';
import { dataCommand } from './commands/data.ts';
import { evalCommand } from './commands/eval.ts';
import { trainCommand } from './commands/train.ts';

const program = new Command('birdgate')
  .description('Watches camera folders, tells birds from airplanes, moves airplanes away.')
  .showHelpAfterError();
for (const command of [dataCommand(), trainCommand(), evalCommand(), classifyCommand()])
  program.addCommand(command);

program.parseAsync(process.argv).catch((error: Error) => {
  console.error(`birdgate: ${error.message}`);
  if (process.env.BIRDGATE_DEBUG) console.error(error.stack);
  process.exitCode = 1;
});
