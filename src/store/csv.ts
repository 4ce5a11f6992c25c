/** The CSV export: one row per live image, RFC 4180 quoting. */
import { open } from 'node:fs/promises';
import type { Store } from './store.ts';

export const EXPORT_HEADER = ['path', 'camera', 'capture_time', 'label', 'p_bird', 'corrected_label'];

/** Quotes a field when it holds a comma, a quote or a line break; quotes inside are doubled. */
export function csvField(value: string | number | null): string {
  const text = value === null ? '' : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function csvLine(values: (string | number | null)[]): string {
  return `${values.map(csvField).join(',')}\r\n`;
}

/** Writes the export to `file` (replacing it) and returns the number of images written. */
export async function exportCsv(store: Store, file: string): Promise<number> {
  const out = await open(file, 'w');
  try {
    let count = 0;
    let chunk = csvLine(EXPORT_HEADER);
    for (const row of store.exportRows()) {
      chunk += csvLine([row.path, row.camera, row.captureTime, row.label, row.pBird, row.correctedLabel]);
      if (++count % 1000 === 0) {
        await out.write(chunk);
        chunk = '';
      }
    }
    await out.write(chunk);
    return count;
  } finally {
    await out.close();
  }
}
