/** Picks the API implementation: Electron's preload bridge when present, else HTTP to `birdgate serve`. */
import type { BirdgateApi } from '../../../../src/api/contract.ts';
import { createHttpClient, type LiveConnection } from './http-client.ts';
import { takeToken } from './token.ts';

declare global {
  interface Window {
    /** Exposed by Electron's preload through contextBridge. */
    birdgate?: BirdgateApi;
  }
}

export function chooseApi(win: Window): BirdgateApi {
  if (win.birdgate) return win.birdgate;
  const token = takeToken(win.location, win.sessionStorage, win.history);
  return createHttpClient({ baseUrl: win.location.origin, token });
}

/** Only the HTTP client reports its live connection; the Electron bridge never drops one. */
export function hasLiveConnection(api: BirdgateApi): api is BirdgateApi & LiveConnection {
  return typeof (api as Partial<LiveConnection>).onConnectionChange === 'function';
}
