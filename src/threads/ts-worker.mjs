// Worker threads do not inherit the parent's tsx loader: register it, then load the TypeScript module.
import { workerData } from 'node:worker_threads';
import './register-ts.mjs';

await import(workerData.module);
