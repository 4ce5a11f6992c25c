import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';

export type FolderProbe =
  { state: 'present'; identity: string } | { state: 'missing' } | { state: 'error'; detail: string };

/**
 * Whether a watched folder is there and listable. `identity` changes when the folder is deleted and
 * re-created between two probes, which chokidar cannot always notice: its watch stays on the old one.
 * Birth time is part of it because ext4 hands a re-created folder the inode number it just freed.
 */
export async function probeFolder(folder: string): Promise<FolderProbe> {
  try {
    const s = await stat(folder);
    if (!s.isDirectory()) return { state: 'error', detail: `${folder} is not a folder` };
    await access(folder, constants.R_OK | constants.X_OK);
    return { state: 'present', identity: `${s.dev}:${s.ino}:${s.birthtimeMs}` };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { state: 'missing' };
    return { state: 'error', detail: (error as Error).message };
  }
}
