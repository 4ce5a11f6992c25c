/** Terminal progress bars (cli-progress) for downloads, scans and training; silent when not a TTY. */
import cliProgress from 'cli-progress';

export interface Progress {
  update(value: number, total?: number, fields?: Record<string, string | number>): void;
  stop(): void;
}

export function progressBar(
  label: string,
  format = '{bar} {percentage}% | {value}/{total} | ETA {eta_formatted}',
): Progress {
  if (!process.stderr.isTTY) return { update: () => {}, stop: () => {} };
  const bar = new cliProgress.SingleBar(
    { format: `${label} ${format}`, stream: process.stderr, hideCursor: true, etaBuffer: 50 },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(value, total, fields) {
      if (!started) {
        bar.start(total ?? 0, value, fields);
        started = true;
      } else {
        if (total !== undefined) bar.setTotal(total);
        bar.update(value, fields);
      }
    },
    stop() {
      if (started) bar.stop();
    },
  };
}
