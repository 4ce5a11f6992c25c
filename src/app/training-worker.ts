/**
 * Runs one retrain on its own thread (serve mode and Electron), so the server and the watcher stay
 * responsive; progress goes back as messages. Cancelling aborts between steps and saves nothing.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { selectBackend } from '../model/backend.ts';
import { retrain, type RetrainOptions } from '../retrain/retrain.ts';
import type { TrainingRequest, TrainingMessage } from './training-runner.ts';

const request = workerData as TrainingRequest;
const abort = new AbortController();
const post = (message: TrainingMessage) => parentPort!.postMessage(message);
parentPort!.on('message', (message: { kind: 'cancel' }) => message.kind === 'cancel' && abort.abort());

try {
  const backend = await selectBackend('auto');
  const options: RetrainOptions = {
    ...request,
    backend,
    signal: abort.signal,
    onEvent: (event) => post({ kind: 'event', event }),
  };
  const result = await retrain(options);
  post({
    kind: 'done',
    result: { ...result, candidate: { ...result.candidate }, previous: { ...result.previous } },
  });
} catch (error) {
  post({ kind: 'failed', message: (error as Error).message, cancelled: abort.signal.aborted });
}
