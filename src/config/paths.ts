import path from 'node:path';
import envPaths from 'env-paths';

/**
 * Where Birdgate keeps downloads, models and its database. BIRDGATE_HOME overrides the OS per-user data
 * folder so tests and portable installs can point it elsewhere; an empty value counts as unset.
 */
export function appDataDir(): string {
  const override = process.env.BIRDGATE_HOME;
  if (override) return path.resolve(override);
  // suffix '' stops env-paths appending "-nodejs" to the folder name.
  return envPaths('birdgate', { suffix: '' }).data;
}

/** Where the official CIFAR-10 archive is downloaded to (and looked for). */
export function cifarDownloadPath(): string {
  return path.join(appDataDir(), 'data', 'cifar-10-binary.tar.gz');
}
