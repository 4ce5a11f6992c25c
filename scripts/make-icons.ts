/**
 * Renders build/icon.svg into the PNGs electron-builder and the tray use: build/icon.png (512 px: macOS,
 * Windows), build/icons/{512x512,256x256}.png (Linux) and build/tray.png (32 px, electron/main.ts).
 * Run with `node --import tsx scripts/make-icons.ts` after changing the SVG; the PNGs are committed.
 */
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';

const BUILD = fileURLToPath(new URL('../build', import.meta.url));

const svg = await readFile(path.join(BUILD, 'icon.svg'));
const outputs: [string, number][] = [
  ['icon.png', 512],
  ['icons/512x512.png', 512],
  ['icons/256x256.png', 256],
  ['tray.png', 32],
];
await mkdir(path.join(BUILD, 'icons'), { recursive: true });
for (const [file, size] of outputs) {
  // Rasterised at the target size (density scales the 512-unit viewBox) rather than shrunk from 512 px.
  await sharp(svg, { density: (72 * size) / 512 })
    .resize(size, size)
    .png({ compressionLevel: 9 })
    .toFile(path.join(BUILD, file));
  console.log(`build/${file} (${size}×${size})`);
}
