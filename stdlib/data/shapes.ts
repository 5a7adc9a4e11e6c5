// The tiny world's dataset: synthetic captioned videos of one coloured shape moving over a
// plain or two-tone background, generated on the fly and deterministic by seed.
//
//   shapesVideo(7)            -> { frames [8,3,32,32] in [-1,1], caption, attributes }
//   captionFor(attributes)    -> "an orange star moving up on a black and grey background"
//   parseCaption(caption)     -> the attributes back (or null when it is not a tiny-world caption)
//   shapesDataset(seed, n)    -> n such videos, item i always the same for (seed, i)
//
// Geometry. A shape is drawn around its centre (cx, cy) with a radius r in pixels; each
// outline fits inside the circle of radius r and has its area centroid at the centre, so
// the pixel centroid follows the motion exactly. Pixels are anti-aliased by coverage:
// SUBSAMPLES x SUBSAMPLES points per pixel, colour = mix(background, shape, covered fraction).
//
// Motion is linear over the clip. Moving shapes travel TRAVEL (45%) of the frame along the
// axis, about 2 px per frame at 8 frames of 32 px; growing/shrinking shapes go between
// 0.08 and 0.26 of the short side in radius (area x10); still shapes stay put.
// Two-tone backgrounds split the frame into a top and a bottom half; the caption names the
// top colour first ("on a dark blue and black background").
import { Rng, hashString } from '../nn/random.ts';
import type { VideoFrames } from './video-frames.ts';

export const SHAPES = ['circle', 'square', 'triangle', 'diamond', 'star', 'cross', 'hexagon'] as const;
export type ShapeName = (typeof SHAPES)[number];

/** Shape colours, RGB 0..255: bright and far from each other and from every background. */
export const COLOURS = {
  red: [225, 35, 35],
  orange: [250, 140, 15],
  yellow: [245, 225, 30],
  green: [40, 190, 60],
  cyan: [30, 215, 225],
  blue: [45, 85, 240],
  purple: [150, 55, 215],
  pink: [250, 125, 200],
} as const satisfies Record<string, readonly [number, number, number]>;
export type ColourName = keyof typeof COLOURS;
export const COLOUR_NAMES = Object.keys(COLOURS) as ColourName[];

/** Background colours, RGB 0..255: dark, neutral or pale, so shapes stand out on all. */
export const BACKGROUND_COLOURS = {
  black: [12, 12, 14],
  white: [240, 240, 236],
  grey: [120, 120, 124],
  'dark blue': [18, 28, 92],
  'dark green': [16, 72, 34],
  brown: [100, 62, 32],
  beige: [222, 206, 168],
} as const satisfies Record<string, readonly [number, number, number]>;
export type BackgroundColourName = keyof typeof BACKGROUND_COLOURS;
export const BACKGROUND_COLOUR_NAMES = Object.keys(BACKGROUND_COLOURS) as BackgroundColourName[];

/** A plain background ("grey") or a two-tone one, top half first ("grey and black"). */
export type BackgroundName = BackgroundColourName | `${BackgroundColourName} and ${BackgroundColourName}`;

export const MOTIONS = ['left', 'right', 'up', 'down', 'growing', 'shrinking', 'still'] as const;
export type MotionName = (typeof MOTIONS)[number];

export interface ShapeAttributes {
  shape: ShapeName;
  colour: ColourName;
  motion: MotionName;
  background: BackgroundName;
}

export interface ShapesVideoOptions {
  /** Frames per video; default 8. */
  frames?: number;
  /** Height in pixels; default 32. */
  height?: number;
  /** Width in pixels; default 32. */
  width?: number;
  /** Attributes to force; the others are drawn from the seed as usual. */
  attributes?: Partial<ShapeAttributes>;
  /** Chance of a two-tone background when the background is drawn; default 0.3. */
  twoToneProbability?: number;
}

export interface ShapesVideo {
  /** [frames, 3, height, width], values in [-1, 1]. */
  frames: Float32Array;
  caption: string;
  attributes: ShapeAttributes;
  /** The shape's centre (x, y) and radius in pixels, per frame: ground truth for tests. */
  track: { cx: number; cy: number; r: number }[];
  shape: { frames: number; height: number; width: number };
}

export const DEFAULT_FRAMES = 8;
export const DEFAULT_SIZE = 32;
const SUBSAMPLES = 4;
const TRAVEL = 0.45;
const RADIUS_MIN = 0.14;
const RADIUS_MAX = 0.19;
const SCALE_SMALL = 0.08;
const SCALE_LARGE = 0.26;
const MAX_SIDE = 4096;
const MAX_FRAMES = 1024;

export class ShapesError extends Error {
  override name = 'ShapesError';
}

// ---- captions

const MOTION_PHRASES: Record<MotionName, string> = {
  left: 'moving left',
  right: 'moving right',
  up: 'moving up',
  down: 'moving down',
  growing: 'growing',
  shrinking: 'shrinking',
  still: 'staying still',
};

/** "a" or "an" for a colour or background word of this vocabulary (all pronounced as spelt). */
function article(word: string): 'a' | 'an' {
  return /^[aeiou]/i.test(word) ? 'an' : 'a';
}

/** The two colours of a background: [top, bottom] (the same twice for a plain one). */
export function backgroundColours(background: BackgroundName): [BackgroundColourName, BackgroundColourName] {
  const parts = background.split(' and ');
  const top = parts[0] as BackgroundColourName;
  const bottom = (parts[1] ?? parts[0]) as BackgroundColourName;
  if (!(top in BACKGROUND_COLOURS) || !(bottom in BACKGROUND_COLOURS) || parts.length > 2) {
    throw new ShapesError(`unknown background '${background}': use one of ${BACKGROUND_COLOUR_NAMES.join(', ')}, or two joined by ' and '`);
  }
  return [top, bottom];
}

function checkAttributes(a: ShapeAttributes): void {
  if (!(SHAPES as readonly string[]).includes(a.shape)) throw new ShapesError(`unknown shape '${a.shape}': use one of ${SHAPES.join(', ')}`);
  if (!(a.colour in COLOURS)) throw new ShapesError(`unknown colour '${a.colour}': use one of ${COLOUR_NAMES.join(', ')}`);
  if (!(MOTIONS as readonly string[]).includes(a.motion)) throw new ShapesError(`unknown motion '${a.motion}': use one of ${MOTIONS.join(', ')}`);
  const [top, bottom] = backgroundColours(a.background);
  if (top === bottom && a.background !== top) throw new ShapesError(`a two-tone background needs two different colours, got '${a.background}'`);
}

/** "a red circle moving left on a dark blue background". */
export function captionFor(attributes: ShapeAttributes): string {
  checkAttributes(attributes);
  const { shape, colour, motion, background } = attributes;
  return `${article(colour)} ${colour} ${shape} ${MOTION_PHRASES[motion]} on ${article(background)} ${background} background`;
}

const CAPTION_PATTERN = new RegExp(
  '^an? (' + COLOUR_NAMES.join('|') + ') (' + SHAPES.join('|') + ') (' + Object.values(MOTION_PHRASES).join('|') + ')' +
    ' on an? ([a-z ]+?) background$',
);

/**
 * The attributes a caption describes, or null when the text is not a caption of the tiny
 * world. Case, surrounding space, repeated spaces and a final full stop are forgiven; the
 * article is not checked.
 */
export function parseCaption(text: string): ShapeAttributes | null {
  const normal = text.trim().toLowerCase().replace(/\s+/g, ' ').replace(/\.$/, '');
  const match = CAPTION_PATTERN.exec(normal);
  if (!match) return null;
  const motion = (Object.keys(MOTION_PHRASES) as MotionName[]).find((m) => MOTION_PHRASES[m] === match[3])!;
  const background = match[4]!;
  const parts = background.split(' and ');
  if (parts.length > 2 || !parts.every((p) => p in BACKGROUND_COLOURS)) return null;
  if (parts.length === 2 && parts[0] === parts[1]) return null;
  return { colour: match[1] as ColourName, shape: match[2] as ShapeName, motion, background: background as BackgroundName };
}

// ---- drawing attributes and placement from a seed

/** A source of uniform numbers in [0, 1): stdlib/nn/random.ts `Rng`, or any other. */
export interface UniformSource {
  uniform(): number;
}

function pickFrom<T>(items: readonly T[], rng: UniformSource): T {
  return items[Math.min(items.length - 1, Math.floor(rng.uniform() * items.length))]!;
}

/** Attributes drawn uniformly (shape, colour, motion, background colours) from `rng`. */
export function randomAttributes(rng: UniformSource, twoToneProbability = 0.3): ShapeAttributes {
  const shape = pickFrom(SHAPES, rng);
  const colour = pickFrom(COLOUR_NAMES, rng);
  const motion = pickFrom(MOTIONS, rng);
  const top = pickFrom(BACKGROUND_COLOUR_NAMES, rng);
  let background: BackgroundName = top;
  if (rng.uniform() < twoToneProbability) {
    background = `${top} and ${pickFrom(BACKGROUND_COLOUR_NAMES.filter((name) => name !== top), rng)}`;
  }
  return { shape, colour, motion, background };
}

/** How many distinct captions the tiny world has (every background pair, ordered, plus plain). */
export function captionCount(): number {
  const b = BACKGROUND_COLOUR_NAMES.length;
  return SHAPES.length * COLOUR_NAMES.length * MOTIONS.length * b * b;
}

/** Every caption of the tiny world, in a fixed order (shape, colour, motion, background). */
export function allCaptions(): string[] {
  const backgrounds: BackgroundName[] = [...BACKGROUND_COLOUR_NAMES];
  for (const top of BACKGROUND_COLOUR_NAMES) {
    for (const bottom of BACKGROUND_COLOUR_NAMES) if (top !== bottom) backgrounds.push(`${top} and ${bottom}`);
  }
  const out: string[] = [];
  for (const shape of SHAPES) {
    for (const colour of COLOUR_NAMES) {
      for (const motion of MOTIONS) {
        for (const background of backgrounds) out.push(captionFor({ shape, colour, motion, background }));
      }
    }
  }
  return out;
}

// ---- rasterisation

type Inside = (x: number, y: number) => boolean;

/** Even-odd point-in-polygon test; vertices as a flat [x0, y0, x1, y1, ...] list. */
function polygon(vertices: readonly number[]): Inside {
  const n = vertices.length / 2;
  return (x, y) => {
    let inside = false;
    for (let i = 0, j = n - 1; i < n; j = i++) {
      const xi = vertices[2 * i]!, yi = vertices[2 * i + 1]!;
      const xj = vertices[2 * j]!, yj = vertices[2 * j + 1]!;
      if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
    }
    return inside;
  };
}

/** A regular polygon (or a star, alternating two radii) centred at the origin, y down. */
function regular(points: number, radii: readonly number[], rotation: number): number[] {
  const out: number[] = [];
  const count = points * radii.length;
  for (let k = 0; k < count; k++) {
    const angle = rotation + (2 * Math.PI * k) / count;
    const radius = radii[k % radii.length]!;
    out.push(radius * Math.cos(angle), radius * Math.sin(angle));
  }
  return out;
}

/** Outlines in unit coordinates (radius 1, y pointing down), each centred on its centroid. */
const OUTLINES: Record<ShapeName, Inside> = {
  circle: (x, y) => x * x + y * y <= 1,
  square: (x, y) => Math.abs(x) <= 0.8 && Math.abs(y) <= 0.8,
  // Equilateral, pointing up: its centroid is the centre of its circumcircle.
  triangle: polygon(regular(3, [1], -Math.PI / 2)),
  diamond: (x, y) => Math.abs(x) * 1.25 + Math.abs(y) <= 1,
  star: polygon(regular(5, [1, 0.45], -Math.PI / 2)),
  cross: (x, y) => (Math.abs(x) <= 0.3 && Math.abs(y) <= 0.9) || (Math.abs(y) <= 0.3 && Math.abs(x) <= 0.9),
  hexagon: polygon(regular(6, [1], 0)),
};

function checkSize(name: string, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new ShapesError(`${name} must be an integer from 1 to ${max}, got ${value}`);
  }
}

interface Placement {
  cx: number;
  cy: number;
  r: number;
}

/** The shape's centre and radius on each frame, from the motion and the seed. */
function plan(rng: Rng, motion: MotionName, frames: number, height: number, width: number): Placement[] {
  const short = Math.min(height, width);
  const progress = (t: number) => (frames > 1 ? t / (frames - 1) : 0);
  // A position along an axis of `length` pixels for a shape of radius r, kept inside.
  const across = (length: number, r: number) => rng.uniformIn(r, length - r);
  if (motion === 'growing' || motion === 'shrinking') {
    const small = SCALE_SMALL * short;
    const large = SCALE_LARGE * short;
    const cx = across(width, large);
    const cy = across(height, large);
    const [from, to] = motion === 'growing' ? [small, large] : [large, small];
    return Array.from({ length: frames }, (_, t) => ({ cx, cy, r: from + (to - from) * progress(t) }));
  }
  const r = rng.uniformIn(RADIUS_MIN, RADIUS_MAX) * short;
  if (motion === 'still') {
    const cx = across(width, r);
    const cy = across(height, r);
    return Array.from({ length: frames }, () => ({ cx, cy, r }));
  }
  const horizontal = motion === 'left' || motion === 'right';
  const along = horizontal ? width : height;
  const travel = TRAVEL * along;
  // Start so that the whole path stays inside: the low end of the path is in [r, along - r - travel].
  const low = rng.uniformIn(r, Math.max(r, along - r - travel));
  const forward = motion === 'right' || motion === 'down';
  const start = forward ? low : low + travel;
  const step = forward ? travel : -travel;
  const other = across(horizontal ? height : width, r);
  return Array.from({ length: frames }, (_, t) => {
    const position = start + step * progress(t);
    return horizontal ? { cx: position, cy: other, r } : { cx: other, cy: position, r };
  });
}

const toUnit = (byte: number) => byte / 127.5 - 1;

/** Paints one video into `out` ([T,3,H,W]). */
function paint(
  out: Float32Array,
  attributes: ShapeAttributes,
  track: readonly Placement[],
  height: number,
  width: number,
): void {
  const plane = height * width;
  const [topName, bottomName] = backgroundColours(attributes.background);
  const top = BACKGROUND_COLOURS[topName].map(toUnit);
  const bottom = BACKGROUND_COLOURS[bottomName].map(toUnit);
  const fg = COLOURS[attributes.colour].map(toUnit);
  const inside = OUTLINES[attributes.shape];
  const split = height / 2;
  const samples = SUBSAMPLES * SUBSAMPLES;
  for (let t = 0; t < track.length; t++) {
    const base = t * 3 * plane;
    // Background: each row is top or bottom colour; a row straddling an odd split is mixed.
    for (let y = 0; y < height; y++) {
      const topShare = Math.min(1, Math.max(0, split - y));
      for (let c = 0; c < 3; c++) {
        const value = top[c]! * topShare + bottom[c]! * (1 - topShare);
        out.fill(value, base + c * plane + y * width, base + c * plane + (y + 1) * width);
      }
    }
    const { cx, cy, r } = track[t]!;
    if (r <= 0) continue;
    const x0 = Math.max(0, Math.floor(cx - r)), x1 = Math.min(width - 1, Math.ceil(cx + r));
    const y0 = Math.max(0, Math.floor(cy - r)), y1 = Math.min(height - 1, Math.ceil(cy + r));
    for (let y = y0; y <= y1; y++) {
      for (let x = x0; x <= x1; x++) {
        let hits = 0;
        for (let sy = 0; sy < SUBSAMPLES; sy++) {
          const py = (y + (sy + 0.5) / SUBSAMPLES - cy) / r;
          for (let sx = 0; sx < SUBSAMPLES; sx++) {
            if (inside((x + (sx + 0.5) / SUBSAMPLES - cx) / r, py)) hits++;
          }
        }
        if (hits === 0) continue;
        const cover = hits / samples;
        const i = y * width + x;
        for (let c = 0; c < 3; c++) {
          const at = base + c * plane + i;
          out[at] = out[at]! * (1 - cover) + fg[c]! * cover;
        }
      }
    }
  }
}

/** One captioned video, deterministic by `seed` (same seed and options -> same bytes). */
export function shapesVideo(seed: number, options: ShapesVideoOptions = {}): ShapesVideo {
  const frames = options.frames ?? DEFAULT_FRAMES;
  const height = options.height ?? DEFAULT_SIZE;
  const width = options.width ?? DEFAULT_SIZE;
  checkSize('frames', frames, MAX_FRAMES);
  checkSize('height', height, MAX_SIDE);
  checkSize('width', width, MAX_SIDE);
  if (!Number.isFinite(seed)) throw new ShapesError(`seed must be a finite number, got ${seed}`);
  const rng = new Rng(seed, 'tiny_shapes');
  // Always draw all attributes, so forcing one leaves the others as the seed had them.
  const drawn = randomAttributes(rng, options.twoToneProbability ?? 0.3);
  const attributes: ShapeAttributes = { ...drawn, ...options.attributes };
  checkAttributes(attributes);
  const track = plan(rng, attributes.motion, frames, height, width);
  const data = new Float32Array(frames * 3 * height * width);
  paint(data, attributes, track, height, width);
  return {
    frames: data,
    caption: captionFor(attributes),
    attributes,
    track: track.map((p) => ({ ...p })),
    shape: { frames, height, width },
  };
}

/** The seed of item `index` of the dataset with seed `seed`: stable, and distinct per index. */
export function shapesItemSeed(seed: number, index: number): number {
  return hashString(`tiny_shapes/${seed}/${index}`);
}

export interface ShapesItem extends ShapesVideo {
  index: number;
  seed: number;
}

/** Item `index` of the dataset (random access; equal to what shapesDataset yields there). */
export function shapesItem(seed: number, index: number, options: ShapesVideoOptions = {}): ShapesItem {
  const itemSeed = shapesItemSeed(seed, index);
  return { ...shapesVideo(itemSeed, options), index, seed: itemSeed };
}

/** `count` videos in a fixed order, deterministic by `seed`. */
export function* shapesDataset(seed: number, count: number, options: ShapesVideoOptions = {}): Generator<ShapesItem> {
  if (!Number.isInteger(count) || count < 0) throw new ShapesError(`count must be a non-negative integer, got ${count}`);
  for (let index = 0; index < count; index++) yield shapesItem(seed, index, options);
}

/** A video in the media layer's form, for writeVideo / writeFrameGridPng. */
export function asVideoFrames(video: ShapesVideo): VideoFrames {
  return { data: video.frames, ...video.shape };
}

/** B videos of one size side by side as one wider video (for looking at a batch). */
export function tileVideos(videos: readonly ShapesVideo[], gap = 2): VideoFrames {
  if (videos.length === 0) throw new ShapesError('no videos to tile');
  const { frames, height, width } = videos[0]!.shape;
  for (const v of videos) {
    if (v.shape.frames !== frames || v.shape.height !== height || v.shape.width !== width) {
      throw new ShapesError('videos to tile must all have the same frames, height and width');
    }
  }
  const outWidth = videos.length * width + (videos.length - 1) * gap;
  const plane = height * outWidth;
  const data = new Float32Array(frames * 3 * plane).fill(-0.75);
  videos.forEach((v, b) => {
    for (let t = 0; t < frames; t++) {
      for (let c = 0; c < 3; c++) {
        for (let y = 0; y < height; y++) {
          const from = ((t * 3 + c) * height + y) * width;
          data.set(v.frames.subarray(from, from + width), (t * 3 + c) * plane + y * outWidth + b * (width + gap));
        }
      }
    }
  });
  return { data, frames, height, width: outWidth };
}
