/**
 * `birdgate serve` prints http://127.0.0.1:PORT/#token=...: the token is taken from the hash once, kept for
 * this tab in sessionStorage (it survives reloads) and removed from the visible URL and history.
 */
const STORAGE_KEY = 'birdgate.token';

export function takeToken(
  location: Pick<Location, 'hash' | 'pathname' | 'search'>,
  storage: Pick<Storage, 'getItem' | 'setItem'>,
  history: Pick<History, 'replaceState' | 'state'>,
): string | null {
  const fromHash = new URLSearchParams(location.hash.replace(/^#/, '')).get('token');
  if (!fromHash) return storage.getItem(STORAGE_KEY);
  storage.setItem(STORAGE_KEY, fromHash);
  history.replaceState(history.state, '', location.pathname + location.search);
  return fromHash;
}
