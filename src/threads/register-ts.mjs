// Runs TypeScript through tsx, like `--import tsx`, but without Node's source-map support, which tsx
// turns on for every module: parsing the maps that node_modules ship (TensorFlow.js's above all) costs
// ~30 MB in each thread that loads them. Stack traces then point into the transpiled code;
// BIRDGATE_SOURCE_MAPS=1 keeps the maps for debugging.
import process from 'node:process';
import { register } from 'tsx/esm/api';

register();
if (!process.env.BIRDGATE_SOURCE_MAPS) process.setSourceMapsEnabled(false);
