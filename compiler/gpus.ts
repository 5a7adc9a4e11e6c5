// GPU memory sizes: the common cards `vplc explain --graph` checks a pipeline against, reading a
// size written on the command line (`--gpu-memory 24GB`), and whether an estimate fits.
//
// Cards are sold by "GB" that are binary: an RTX 4090's 24 GB is 24564 MiB, an A100's 80 GB is
// 81920 MiB. So G, GB and GiB all read as 2^30 bytes here; a user who writes 24GB for a 24 GB
// card means the card.
import { VplError } from '../diagnostics/error.ts';

const GiB = 2 ** 30;

export interface GpuSize {
  bytes: number;
  /** The cards of this size, or how the user wrote it. */
  label: string;
}

/** Common training cards, smallest first. */
export const COMMON_GPUS: readonly GpuSize[] = [
  { bytes: 16 * GiB, label: 'T4, V100 16GB, RTX 4080' },
  { bytes: 24 * GiB, label: 'RTX 3090, RTX 4090, A10' },
  { bytes: 40 * GiB, label: 'A100 40GB' },
  { bytes: 48 * GiB, label: 'L40S, RTX A6000' },
  { bytes: 80 * GiB, label: 'A100 80GB, H100' },
];

const UNITS: Readonly<Record<string, number>> = {
  m: 2 ** 20,
  mb: 2 ** 20,
  mib: 2 ** 20,
  g: GiB,
  gb: GiB,
  gib: GiB,
  t: 2 ** 40,
  tb: 2 ** 40,
  tib: 2 ** 40,
};

/** `24GB`, `24GiB`, `24G`, `80gb`, `12.5 GiB` -> bytes; anything else is VPL7137. */
export function parseMemorySize(text: string, flag = '--gpu-memory'): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*$/i.exec(text);
  const scale = match ? UNITS[match[2]!.toLowerCase()] : undefined;
  const bytes = match && scale ? Number(match[1]) * scale : NaN;
  if (!Number.isFinite(bytes) || bytes <= 0) {
    throw new VplError('VPL7137', `${flag}: cannot read '${text}' as a memory size`, {
      help: `write a number and a unit, like ${flag} 24GB, 24GiB, 24G or 80gb (GB are read as GiB, as cards are sized; MB and TB work too)`,
    });
  }
  return Math.round(bytes);
}

export interface GpuFit extends GpuSize {
  fits: boolean;
  /** Bytes left over (negative: how much is missing). */
  spareBytes: number;
}

/** Whether `needBytes` fits in each size. */
export function fitOn(needBytes: number, sizes: readonly GpuSize[] = COMMON_GPUS): GpuFit[] {
  return sizes.map((size) => ({ ...size, fits: needBytes <= size.bytes, spareBytes: size.bytes - needBytes }));
}
