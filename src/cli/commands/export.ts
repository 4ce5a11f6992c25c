import { Command } from 'commander';
import { exportCsv } from '../../store/csv.ts';
import { openStore } from '../../store/store.ts';

export function exportCommand(): Command {
  return new Command('export')
    .description('write every image with its label and p(bird) to a CSV file')
    .requiredOption('--csv <file>', 'CSV file to write (replaced if it exists)')
    .action(async (opts: { csv: string }) => {
      const store = await openStore();
      try {
        const count = await exportCsv(store, opts.csv);
        console.log(`Exported ${count} images to ${opts.csv}`);
      } finally {
        store.close();
      }
    });
}
