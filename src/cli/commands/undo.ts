import { Command, InvalidArgumentError, Option } from 'commander';
import { z } from 'zod';
import { undoMoves, type UndoSelection } from '../../sort/undo.ts';
import { openStore } from '../../store/store.ts';
import { integer } from '../parse.ts';

const SPAN_MS = { m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const isoTime = z.union([z.iso.date(), z.iso.datetime({ offset: true, local: true })]);

/** `--since`: an ISO date or date-time (local time unless it has an offset), or a span back from now. */
export function parseSince(value: string, now = new Date()): Date {
  const span = /^(\d+)([mhd])$/.exec(value);
  if (span) return new Date(now.getTime() - Number(span[1]) * SPAN_MS[span[2] as keyof typeof SPAN_MS]);
  if (!isoTime.safeParse(value).success) {
    throw new InvalidArgumentError(
      'expected an ISO date or time (2024-05-01, 2024-05-01T14:30) or a span (30m, 2h, 1d)',
    );
  }
  // A bare date would be read as UTC midnight; the user means midnight where they are.
  return new Date(value.length === 10 ? `${value}T00:00` : value);
}

function positive(value: string): number {
  const n = integer(value);
  if (n < 1) throw new InvalidArgumentError('expected a number from 1 up');
  return n;
}

export function undoCommand(): Command {
  return new Command('undo')
    .description('move sorted files back to where they came from')
    .addOption(new Option('--last <n>', 'the newest N moves').argParser(positive).conflicts(['since', 'id']))
    .addOption(
      new Option('--since <time>', 'every move since a time (ISO, or 30m, 2h, 1d ago)').argParser(parseSince),
    )
    .addOption(
      new Option('--id <id>', 'a move by id (repeatable)')
        .argParser((value: string, previous: number[] = []) => [...previous, positive(value)])
        .conflicts('since'),
    )
    .action(async (opts: { last?: number; since?: Date; id?: number[] }) => {
      const selection: UndoSelection | undefined = opts.id
        ? { ids: opts.id }
        : opts.last
          ? { last: opts.last }
          : opts.since
            ? { since: opts.since }
            : undefined;
      if (!selection) throw new Error('say which moves to undo: --last N, --since TIME or --id ID');
      const store = await openStore();
      try {
        const result = await undoMoves(store, selection);
        for (const move of result.undone) console.log(`moved back: ${move.toPath}  (from ${move.fromPath})`);
        for (const { moveId, reason } of result.skipped) console.error(`move ${moveId} skipped: ${reason}`);
        for (const { moveId, error } of result.failed) console.error(`move ${moveId} failed: ${error}`);
        if (result.undone.length === 0 && result.skipped.length === 0 && result.failed.length === 0) {
          console.log('nothing to undo');
        }
        if (result.failed.length > 0) process.exitCode = 1;
      } finally {
        store.close();
      }
    });
}
