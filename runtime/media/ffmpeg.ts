// Finding ffmpeg on PATH and what it can encode. Both are looked up once per process:
// validation videos are written many times during a run.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

let cachedPath: string | null | undefined;
const encoderCache = new Map<string, ReadonlySet<string>>();

/** The ffmpeg executable on PATH, or null. */
export function findFfmpeg(envPath = process.env.PATH ?? ''): string | null {
  if (cachedPath !== undefined) return cachedPath;
  const names = process.platform === 'win32' ? ['ffmpeg.exe'] : ['ffmpeg'];
  cachedPath = null;
  for (const dir of envPath.split(path.delimiter)) {
    if (!dir) continue;
    for (const name of names) {
      const candidate = path.join(dir, name);
      try {
        fs.accessSync(candidate, fs.constants.X_OK);
        if (fs.statSync(candidate).isFile()) return (cachedPath = candidate);
      } catch {
        // not here; keep looking
      }
    }
  }
  return cachedPath;
}

/** Names of the video encoders `ffmpeg -encoders` lists (libx264, mpeg4, ...). */
export function ffmpegVideoEncoders(ffmpeg: string): ReadonlySet<string> {
  const cached = encoderCache.get(ffmpeg);
  if (cached) return cached;
  const result = spawnSync(ffmpeg, ['-hide_banner', '-encoders'], { encoding: 'utf8' });
  const encoders = new Set<string>();
  // Lines look like " V....D libx264   libx264 H.264 / AVC ...": flags, then the name.
  for (const line of (result.stdout ?? '').split('\n')) {
    const match = /^\s*V[A-Z.]{5}\s+(\S+)/.exec(line);
    if (match) encoders.add(match[1]!);
  }
  encoderCache.set(ffmpeg, encoders);
  return encoders;
}
