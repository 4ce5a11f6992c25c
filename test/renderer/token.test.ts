// @vitest-environment jsdom
import { beforeEach, describe, expect, it } from 'vitest';
import { chooseApi } from '../../renderer/src/lib/api/platform.ts';
import { takeToken } from '../../renderer/src/lib/api/token.ts';
import { FakeApi } from './fake-api.ts';

describe('token from the printed URL', () => {
  beforeEach(() => {
    sessionStorage.clear();
    history.replaceState(null, '', '/');
  });

  it('takes the token from the hash, keeps it for the tab and removes it from the URL', () => {
    history.replaceState(null, '', '/?x=1#token=abc%2Bdef');
    expect(takeToken(location, sessionStorage, history)).toBe('abc+def');
    expect(location.href).toBe(`${location.origin}/?x=1`);
    expect(sessionStorage.getItem('birdgate.token')).toBe('abc+def');
  });

  it('finds the kept token after a reload, and nothing when there never was one', () => {
    expect(takeToken(location, sessionStorage, history)).toBeNull();
    sessionStorage.setItem('birdgate.token', 'kept');
    expect(takeToken(location, sessionStorage, history)).toBe('kept');
  });

  it("uses Electron's bridge when the preload exposed one, else HTTP to this origin", () => {
    const bridge = new FakeApi();
    window.birdgate = bridge;
    expect(chooseApi(window)).toBe(bridge);
    delete window.birdgate;
    history.replaceState(null, '', '/#token=t');
    expect(chooseApi(window).thumbnailUrl(1)).toBe(`${location.origin}/api/thumbnails/1?token=t`);
  });
});
