/**
 * The only bridge between the sandboxed renderer and the core: `window.birdgate`, a BirdgateApi over IPC.
 * It exposes functions, never ipcRenderer itself; every payload is validated again in the main process.
 */
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import type { ApiEvent, BirdgateApi, Envelope, MethodName } from '../src/api/contract.ts';

class BridgeError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

const api: BirdgateApi = {
  async call(method, input) {
    const envelope = (await ipcRenderer.invoke(
      'birdgate:call',
      method as MethodName,
      input,
    )) as Envelope<never>;
    if (!envelope.ok) throw new BridgeError(envelope.error.code, envelope.error.message);
    return envelope.result;
  },
  subscribe(listener) {
    const handler = (_event: IpcRendererEvent, payload: ApiEvent) => listener(payload);
    ipcRenderer.on('birdgate:event', handler);
    return () => ipcRenderer.removeListener('birdgate:event', handler);
  },
  thumbnailUrl: (id) => `birdgate://app/api/thumbnails/${id}`,
  imageUrl: (id) => `birdgate://app/api/images/${id}`,
  pickFolder: () => ipcRenderer.invoke('birdgate:pick-folder') as Promise<string | undefined>,
};

contextBridge.exposeInMainWorld('birdgate', api);
