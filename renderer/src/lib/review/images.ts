/** What the renderer knows about an image beyond the API's fields. Pure. */
import type { ImageFilter, ImageSummary, Label } from '../../../../src/api/contract.ts';

/** The label that counts: the user's when they set or confirmed one, else the model's. */
export function effectiveLabel(image: ImageSummary): Label | null {
  return image.userLabel ?? image.predictedLabel;
}

/**
 * Whether a live update belongs in the list under `filter`. The server decides the paged lists; this only
 * places images that arrive while the page is open, so it mirrors the server's reading of each field.
 */
export function matchesFilter(image: ImageSummary, filter: ImageFilter): boolean {
  // As the store reads them: dates are when Birdgate recorded the image (since ≤ t < until), and
  // "corrected" means the user's label differs from the model's (a confirmation is not a correction).
  const when = Date.parse(image.createdAt);
  const corrected = image.userLabel !== null && image.userLabel !== image.predictedLabel;
  return (
    (filter.label === undefined || effectiveLabel(image) === filter.label) &&
    (filter.status === undefined || image.status === filter.status) &&
    (filter.corrected === undefined || corrected === filter.corrected) &&
    (filter.camera === undefined || image.camera === filter.camera) &&
    (filter.since === undefined || when >= Date.parse(filter.since)) &&
    (filter.until === undefined || when < Date.parse(filter.until))
  );
}

/** Drops unset fields so requests and comparisons only carry what the user chose. */
export function cleanFilter(filter: ImageFilter): ImageFilter {
  return Object.fromEntries(
    Object.entries(filter).filter(([, value]) => value !== undefined && value !== ''),
  ) as ImageFilter;
}
