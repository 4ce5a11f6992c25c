import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  decideAction,
  defaultSettings,
  loadSettings,
  parseSettings,
  saveSettings,
  SettingsError,
  settingsPath,
  type SettingsInput,
} from '../src/config/settings.ts';
import { tempDir } from './helpers/fixtures.ts';

let home: string;
const savedHome = process.env.BIRDGATE_HOME;

before(async () => {
  home = await tempDir('birdgate-settings-');
  process.env.BIRDGATE_HOME = home;
});

after(async () => {
  if (savedHome === undefined) delete process.env.BIRDGATE_HOME;
  else process.env.BIRDGATE_HOME = savedHome;
  await rm(home, { recursive: true, force: true });
});

describe('settings defaults', () => {
  it('puts airplanes in the app data folder, outside any camera folder, and moves them', () => {
    assert.deepEqual(defaultSettings(), {
      cameras: [],
      airplaneFolder: path.join(home, 'airplanes'),
      action: 'move',
      threshold: 0.5,
      uncertainBand: 0.15,
      scanExisting: true,
      polling: { enabled: false, intervalMs: 2000 },
      depth: 8,
      stabilityMs: 2000,
    });
  });

  it('keeps the file in the app data folder and gives defaults when there is none yet', async () => {
    assert.equal(settingsPath(), path.join(home, 'settings.json'));
    assert.deepEqual(await loadSettings(), defaultSettings());
    assert.equal(existsSync(settingsPath()), false, 'loading must not create the file');
  });

  it('fills defaults inside a partial file, including nested ones', () => {
    const settings = parseSettings({
      polling: { enabled: true },
      cameras: [{ name: 'garden', folder: '/cam/a/' }],
    });
    assert.deepEqual(settings.polling, { enabled: true, intervalMs: 2000 });
    assert.deepEqual(settings.cameras, [{ name: 'garden', folder: '/cam/a', enabled: true }]);
    assert.equal(settings.action, 'move');
  });
});

describe('settings save and load', () => {
  it('round-trips through the default file, atomically, leaving no temp file', async () => {
    const input: SettingsInput = {
      cameras: [
        { name: 'garden', folder: path.join(home, 'garden'), enabled: true },
        { name: 'roof', folder: path.join(home, 'roof'), enabled: false },
      ],
      airplaneFolder: path.join(home, 'planes'),
      action: 'copy',
      threshold: 0.7,
      uncertainBand: 0.1,
      scanExisting: false,
      polling: { enabled: true, intervalMs: 5000 },
      depth: 3,
      stabilityMs: 500,
    };
    const saved = await saveSettings(input);
    assert.deepEqual(saved, input);
    assert.deepEqual(await loadSettings(), input);
    assert.deepEqual(await readdir(home), ['settings.json']);
    assert.deepEqual(JSON.parse(await readFile(settingsPath(), 'utf8')), input);
  });

  it('saves to and loads from an explicit file, creating its folder', async () => {
    const file = path.join(home, 'nested', 'dir', 'custom.json');
    await saveSettings({ threshold: 0.6 }, file);
    assert.equal((await loadSettings(file)).threshold, 0.6);
  });

  it('refuses to save invalid settings and leaves the existing file alone', async () => {
    const file = path.join(home, 'keep.json');
    await saveSettings({ threshold: 0.6 }, file);
    const before = await readFile(file, 'utf8');
    await assert.rejects(saveSettings({ threshold: 2 }, file), SettingsError);
    assert.equal(await readFile(file, 'utf8'), before);
  });

  it('names the file when it is not JSON, instead of crashing', async () => {
    const file = path.join(home, 'corrupt.json');
    await writeFile(file, '{"cameras": [');
    await assert.rejects(loadSettings(file), (error: Error) => {
      assert.ok(error instanceof SettingsError);
      assert.match(error.message, /not valid JSON/);
      assert.ok(error.message.includes(file), error.message);
      return true;
    });
  });

  it('names the file and the field when valid JSON holds invalid settings', async () => {
    const file = path.join(home, 'invalid.json');
    await writeFile(file, JSON.stringify({ action: 'delete' }));
    await assert.rejects(loadSettings(file), (error: Error) => {
      assert.ok(error instanceof SettingsError);
      assert.ok(error.message.includes(file), error.message);
      assert.match(error.message, /action/);
      return true;
    });
  });
});

describe('settings validation', () => {
  const camera = (name: string, folder: string) => ({ name, folder });
  const cases: [string, unknown, RegExp][] = [
    [
      'a relative camera folder',
      { cameras: [camera('a', 'photos')] },
      /cameras\.0\.folder: must be an absolute path/,
    ],
    ['an empty camera name', { cameras: [camera(' ', '/cam')] }, /cameras\.0\.name/],
    [
      'a duplicate camera name',
      { cameras: [camera('a', '/x'), camera('a', '/y')] },
      /cameras\.1\.name: duplicate/,
    ],
    [
      'nested camera folders',
      { cameras: [camera('a', '/x'), camera('b', '/x/y')] },
      /cameras\.1\.folder: overlaps/,
    ],
    [
      'a camera inside the airplane folder',
      { airplaneFolder: '/planes', cameras: [camera('a', '/planes/cam')] },
      /cameras\.0\.folder: is the airplane folder/,
    ],
    ['a relative airplane folder', { airplaneFolder: 'planes' }, /airplaneFolder: must be an absolute path/],
    ['an unknown action', { action: 'delete' }, /action/],
    ['a threshold above 1', { threshold: 1.5 }, /threshold/],
    ['a threshold of 0', { threshold: 0 }, /threshold/],
    ['a band of half the range', { uncertainBand: 0.5 }, /uncertainBand/],
    ['a negative band', { uncertainBand: -0.1 }, /uncertainBand/],
    ['a fractional stability wait', { stabilityMs: 300.5 }, /stabilityMs/],
    ['a negative depth', { depth: -1 }, /depth/],
    ['a too-fast polling interval', { polling: { enabled: true, intervalMs: 10 } }, /polling\.intervalMs/],
    ['a misspelt key', { treshold: 0.6 }, /treshold/],
    ['a number instead of an object', 42, /expected object/],
  ];
  for (const [what, value, message] of cases) {
    it(`rejects ${what}`, () => {
      assert.throws(
        () => parseSettings(value),
        (error: Error) => {
          assert.ok(error instanceof SettingsError);
          assert.match(error.message, message);
          return true;
        },
      );
    });
  }

  it('accepts the airplane folder inside a camera folder (the watcher ignores it)', () => {
    const settings = parseSettings({ airplaneFolder: '/cam/planes', cameras: [camera('a', '/cam')] });
    assert.equal(settings.airplaneFolder, '/cam/planes');
  });
});

describe('decideAction', () => {
  const settings = { threshold: 0.5, uncertainBand: 0.15 };

  it('counts both band edges as uncertain, even when float arithmetic lands just outside', () => {
    for (const p of [0.35, 0.5, 0.65]) assert.equal(decideAction(p, settings), 'uncertain', `p=${p}`);
  });

  it('decides just outside the band', () => {
    assert.equal(decideAction(0.650001, settings), 'airplane');
    assert.equal(decideAction(0.349999, settings), 'bird');
    assert.equal(decideAction(1, settings), 'airplane');
    assert.equal(decideAction(0, settings), 'bird');
  });

  it('follows the threshold and band it is given', () => {
    const strict = { threshold: 0.8, uncertainBand: 0.05 };
    assert.equal(decideAction(0.85, strict), 'uncertain');
    assert.equal(decideAction(0.86, strict), 'airplane');
    assert.equal(decideAction(0.75, strict), 'uncertain');
    assert.equal(decideAction(0.74, strict), 'bird');
  });

  it('leaves only the threshold itself uncertain when there is no band', () => {
    const noBand = { threshold: 0.5, uncertainBand: 0 };
    assert.equal(decideAction(0.5, noBand), 'uncertain');
    assert.equal(decideAction(0.5001, noBand), 'airplane');
    assert.equal(decideAction(0.4999, noBand), 'bird');
  });

  it('throws on a probability outside [0, 1] rather than moving a file', () => {
    for (const p of [Number.NaN, -0.01, 1.01, Infinity]) {
      assert.throws(() => decideAction(p, settings), RangeError, `p=${p}`);
    }
  });
});
