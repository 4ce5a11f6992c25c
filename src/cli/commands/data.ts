import { Command } from 'commander';
import { existsSync } from 'node:fs';
import { cifarDownloadPath } from '../../config/paths.ts';
import { CIFAR_MD5, CIFAR_URL, downloadFile } from '../../data/download.ts';
import { progressBar } from '../progress.ts';

export function dataCommand(): Command {
  const data = new Command('data').description('manage the CIFAR-10 training data');
  data
    .command('download')
    .description('download the official CIFAR-10 binary archive (resumes, verifies md5)')
    .option('--url <url>', 'where to download from', CIFAR_URL)
    .option('--md5 <hex>', 'expected md5', CIFAR_MD5)
    .option('--force', 'download again even if the archive is present')
    .action(async (opts) => {
      const dest = cifarDownloadPath();
      if (existsSync(dest) && !opts.force) {
        console.log(`Already downloaded: ${dest}`);
        return;
      }
      const bar = progressBar(
        'downloading',
        '{bar} {percentage}% | {value}/{total} bytes | ETA {eta_formatted}',
      );
      const abort = new AbortController();
      process.once('SIGINT', () => abort.abort());
      try {
        await downloadFile({
          url: opts.url,
          dest,
          md5: opts.md5,
          signal: abort.signal,
          onProgress: (received, total) => bar.update(received, total ?? received),
        });
      } finally {
        bar.stop();
      }
      console.log(`Downloaded and verified ${dest}`);
    });
  return data;
}
