/** Pages live in the URL hash (#/review …) so a reload keeps the page; the token hash is gone by then. */
export const pages = [
  { name: 'review', title: 'Review' },
  { name: 'folders', title: 'Folders' },
  { name: 'training', title: 'Training' },
  { name: 'accuracy', title: 'Accuracy' },
  { name: 'activity', title: 'Activity' },
] as const;

export type PageName = (typeof pages)[number]['name'];

export function pageFromHash(hash: string): PageName {
  const name = hash.replace(/^#\/?/, '');
  return pages.find((page) => page.name === name)?.name ?? 'review';
}
