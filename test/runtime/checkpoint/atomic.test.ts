import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatVplError, VplError } from '../../../diagnostics/error.ts';
import { writeFileAtomic, writeFileDurably } from '../../../runtime/fs/atomic.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vplc-atomic-'));
});
afterAll(async () => {
  await chmod(dir, 0o700).catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
});

async function rejection(promise: Promise<unknown>): Promise<VplError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(VplError);
  return error as VplError;
}

// Permission checks do not apply to root, so the EACCES case cannot be provoked there.
const isRoot = process.getuid?.() === 0;

describe('atomic writes', () => {
  it('replaces a file and leaves no temp files', async () => {
    const path = join(dir, 'a.json');
    await writeFileAtomic(path, 'old');
    const result = await writeFileAtomic(path, 'new content', { sha256: true });
    expect(await readFile(path, 'utf8')).toBe('new content');
    expect(result.bytes).toBe(11);
    expect(result.sha256).toBe('fe32608c9ef5b6cf7e3f946480253ff76f24f4ec0678f3d0f07f9844cbff9601');
    expect((await readdir(dir)).filter((n) => n.includes('.tmp-'))).toEqual([]);
  });

  it('keeps the previous file when the producer fails midway', async () => {
    const path = join(dir, 'b.bin');
    await writeFileAtomic(path, 'intact');
    const failure = writeFileAtomic(path, async (sink) => {
      await sink.write(new Uint8Array(1000));
      throw new VplError('VPL7014', 'producer failed');
    });
    expect((await rejection(failure)).message).toBe('producer failed');
    expect(await readFile(path, 'utf8')).toBe('intact');
    expect((await readdir(dir)).filter((n) => n.includes('.tmp-'))).toEqual([]);
  });

  it('streams pieces larger and smaller than one write', async () => {
    const path = join(dir, 'c.bin');
    const result = await writeFileAtomic(path, async (sink) => {
      await sink.write(Uint8Array.from([1, 2, 3]));
      await sink.write(new Float32Array([1.5]).subarray(0, 1));
    });
    expect(result.bytes).toBe(7);
    expect(Array.from(await readFile(path))).toEqual([1, 2, 3, ...new Uint8Array(Float32Array.from([1.5]).buffer)]);
  });

  it.skipIf(!existsSync('/dev/full'))('reports a full disk clearly (ENOSPC via /dev/full)', async () => {
    const error = await rejection(writeFileDurably('/dev/full', new Uint8Array(4096)));
    expect(error.code).toBe('VPL7003');
    expect(error.message).toBe("disk full while writing '/dev/full'; the previous version of the file is intact");
    expect(formatVplError(error)).toMatch(/^\/dev\/full: error VPL7003: disk full .*\nhelp: free some space/);
  });

  it('reports a missing folder', async () => {
    const path = join(dir, 'no', 'such', 'x.json');
    const error = await rejection(writeFileAtomic(path, 'x'));
    expect(error.code).toBe('VPL7001');
    expect(error.file).toBe(path);
    expect(error.message).toContain('its folder does not exist');
  });

  it.skipIf(isRoot)('reports a folder without write permission (skipped as root: root bypasses permissions)', async () => {
    const locked = join(dir, 'locked');
    await mkdir(locked);
    await chmod(locked, 0o500);
    const error = await rejection(writeFileAtomic(join(locked, 'x.json'), 'x'));
    expect(error.code).toBe('VPL7002');
    expect(error.message).toMatch(/permission denied/);
  });
});
