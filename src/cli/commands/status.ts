import { Command } from 'commander';
import { openStore } from '../../store/store.ts';
import type { Counts } from '../../store/types.ts';

function formatCounts(counts: Counts): string {
  const lines = [`${counts.total} images`];
  for (const [status, n] of Object.entries(counts.byStatus)) lines.push(`  ${status.padEnd(11)} ${n}`);
  for (const [camera, byStatus] of Object.entries(counts.byCamera)) {
    const parts = Object.entries(byStatus).map(([status, n]) => `${status} ${n}`);
    lines.push(`camera ${camera}: ${parts.join(', ')}`);
  }
  return lines.join('\n');
}

export function statusCommand(): Command {
  return new Command('status')
    .description('count images by status and by camera')
    .option('--json', 'print the counts as JSON')
    .action(async (opts: { json?: boolean }) => {
      const store = await openStore();
      try {
        const counts = store.counts();
        console.log(opts.json ? JSON.stringify(counts) : formatCounts(counts));
      } finally {
        store.close();
      }
    });
}
