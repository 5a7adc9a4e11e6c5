import { describe, expect, it } from 'vitest';
import {
  BACKGROUND_COLOURS,
  COLOURS,
  COLOUR_NAMES,
  MOTIONS,
  SHAPES,
  ShapesError,
  allCaptions,
  backgroundColours,
  captionCount,
  captionFor,
  parseCaption,
  shapesDataset,
  shapesItem,
  shapesVideo,
  type ShapeAttributes,
  type ShapesVideo,
} from '../../../stdlib/data/shapes.ts';

const bytes = (v: ShapesVideo) => Buffer.from(v.frames.buffer, v.frames.byteOffset, v.frames.byteLength);
const unit = (rgb: readonly number[]) => rgb.map((b) => b / 127.5 - 1);

/** Pixel (x, y) of frame t as [r, g, b] in [-1, 1]. */
function pixel(v: ShapesVideo, t: number, x: number, y: number): number[] {
  const { height, width } = v.shape;
  const plane = height * width;
  return [0, 1, 2].map((c) => v.frames[t * 3 * plane + c * plane + y * width + x]!);
}

const dist2 = (a: readonly number[], b: readonly number[]) => a.reduce((s, x, i) => s + (x - b[i]!) ** 2, 0);

/**
 * Everything below is measured from the pixels and the *caption* only: the caption names the
 * background colours (top, bottom) and the shape colour, and the pixels must agree.
 */
function backgroundAt(caption: string, y: number, height: number): number[] {
  const attrs = parseCaption(caption)!;
  const [top, bottom] = backgroundColours(attrs.background);
  return unit(BACKGROUND_COLOURS[y < height / 2 ? top : bottom]);
}

/** The shape colour voted by pixels far from the background: nearest palette colour, majority. */
function dominantColour(v: ShapesVideo, t: number): string {
  const votes = new Map<string, number>();
  const { height, width } = v.shape;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const p = pixel(v, t, x, y);
      if (dist2(p, backgroundAt(v.caption, y, height)) < 0.05) continue;
      let best = '';
      let bestDist = Infinity;
      for (const name of COLOUR_NAMES) {
        const d = dist2(p, unit(COLOURS[name]));
        if (d < bestDist) [best, bestDist] = [name, d];
      }
      votes.set(best, (votes.get(best) ?? 0) + 1);
    }
  }
  return [...votes.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? 'none';
}

/** Shape coverage per pixel, estimated by projecting the pixel onto the background->shape colour line. */
function coverageStats(v: ShapesVideo, t: number): { area: number; cx: number; cy: number } {
  const fg = unit(COLOURS[parseCaption(v.caption)!.colour]);
  const { height, width } = v.shape;
  let area = 0, sx = 0, sy = 0;
  for (let y = 0; y < height; y++) {
    const bg = backgroundAt(v.caption, y, height);
    const span = fg.map((f, c) => f - bg[c]!);
    const norm = dist2(fg, bg);
    for (let x = 0; x < width; x++) {
      const p = pixel(v, t, x, y);
      const cover = Math.min(1, Math.max(0, p.reduce((s, value, c) => s + (value - bg[c]!) * span[c]!, 0) / norm));
      area += cover;
      sx += cover * (x + 0.5);
      sy += cover * (y + 0.5);
    }
  }
  return { area, cx: sx / area, cy: sy / area };
}

describe('tiny_shapes videos', () => {
  it('are deterministic by seed', () => {
    expect(bytes(shapesVideo(42)).equals(bytes(shapesVideo(42)))).toBe(true);
    expect(shapesVideo(42).caption).toBe(shapesVideo(42).caption);
    expect(bytes(shapesVideo(42)).equals(bytes(shapesVideo(43)))).toBe(false);
    const a = [...shapesDataset(7, 12)];
    const b = [...shapesDataset(7, 12)];
    const c = [...shapesDataset(8, 12)];
    a.forEach((item, i) => {
      expect(bytes(item).equals(bytes(b[i]!))).toBe(true);
      expect(bytes(item).equals(bytes(shapesItem(7, i)))).toBe(true); // random access agrees
    });
    expect(a.filter((item, i) => bytes(item).equals(bytes(c[i]!))).length).toBe(0);
    // Within one dataset the items are different videos.
    expect(new Set(a.map((item) => item.seed)).size).toBe(12);
  });

  it('have the asked shape and values in [-1, 1]', () => {
    const v = shapesVideo(3);
    expect(v.shape).toEqual({ frames: 8, height: 32, width: 32 });
    expect(v.frames.length).toBe(8 * 3 * 32 * 32);
    const w = shapesVideo(3, { frames: 5, height: 24, width: 40 });
    expect(w.frames.length).toBe(5 * 3 * 24 * 40);
    const values = [...v.frames, ...w.frames];
    expect(Math.min(...values)).toBeGreaterThanOrEqual(-1);
    expect(Math.max(...values)).toBeLessThanOrEqual(1);
    expect(() => shapesVideo(1, { frames: 0 })).toThrow(ShapesError);
    expect(() => shapesVideo(1, { width: 2.5 })).toThrow(/width must be an integer/);
    expect(() => shapesVideo(1, { attributes: { colour: 'mauve' as never } })).toThrow(/unknown colour 'mauve'/);
  });

  it('keep forced attributes and draw the rest from the seed', () => {
    const v = shapesVideo(11, { attributes: { motion: 'left', colour: 'orange' } });
    expect(v.attributes.motion).toBe('left');
    expect(v.caption).toMatch(/^an orange \w+ moving left on /);
    const free = shapesVideo(11);
    expect(v.attributes.shape).toBe(free.attributes.shape);
    expect(v.attributes.background).toBe(free.attributes.background);
  });

  it('show the colour the caption names, on the backgrounds it names', () => {
    for (const item of shapesDataset(1, 120)) {
      expect(dominantColour(item, 0)).toBe(parseCaption(item.caption)!.colour);
      // The corner farthest from the shape shows the captioned background (top and bottom).
      const { cx } = item.track[0]!;
      const x = cx < item.shape.width / 2 ? item.shape.width - 1 : 0;
      expect(dist2(pixel(item, 0, x, 0), backgroundAt(item.caption, 0, 32))).toBeLessThan(1e-9);
      expect(dist2(pixel(item, 0, x, 31), backgroundAt(item.caption, 31, 32))).toBeLessThan(1e-9);
    }
  });

  it('move the way the caption says, clearly within 8 frames at 32x32', () => {
    const seen = new Set<string>();
    for (const item of shapesDataset(2, 150)) {
      const { motion } = parseCaption(item.caption)!;
      seen.add(motion);
      const stats = Array.from({ length: 8 }, (_, t) => coverageStats(item, t));
      const first = stats[0]!, last = stats[7]!;
      const dx = last.cx - first.cx, dy = last.cy - first.cy;
      const minStep = 1.5; // pixels per frame along the motion
      switch (motion) {
        case 'left':
        case 'right':
        case 'up':
        case 'down': {
          const along = motion === 'left' || motion === 'right' ? dx : dy;
          const across = motion === 'left' || motion === 'right' ? dy : dx;
          const sign = motion === 'left' || motion === 'up' ? -1 : 1;
          expect(sign * along).toBeGreaterThan(7 * minStep);
          expect(Math.abs(across)).toBeLessThan(0.5);
          for (let t = 1; t < 8; t++) {
            const step = motion === 'left' || motion === 'right' ? stats[t]!.cx - stats[t - 1]!.cx : stats[t]!.cy - stats[t - 1]!.cy;
            expect(sign * step).toBeGreaterThan(minStep);
          }
          expect(Math.abs(last.area - first.area) / first.area).toBeLessThan(0.15);
          break;
        }
        case 'growing':
        case 'shrinking': {
          const sign = motion === 'growing' ? 1 : -1;
          for (let t = 1; t < 8; t++) expect(sign * (stats[t]!.area - stats[t - 1]!.area)).toBeGreaterThan(0);
          expect(motion === 'growing' ? last.area / first.area : first.area / last.area).toBeGreaterThan(5);
          expect(Math.hypot(dx, dy)).toBeLessThan(1);
          break;
        }
        case 'still':
          expect(Math.hypot(dx, dy)).toBeLessThan(0.05);
          expect(Math.abs(last.area - first.area)).toBeLessThan(0.01);
          break;
      }
      // The shape stays inside the frame.
      for (const { cx, cy, r } of item.track) {
        expect(cx - r).toBeGreaterThanOrEqual(0);
        expect(cy - r).toBeGreaterThanOrEqual(0);
        expect(cx + r).toBeLessThanOrEqual(32);
        expect(cy + r).toBeLessThanOrEqual(32);
      }
    }
    expect([...seen].sort()).toEqual([...MOTIONS].sort());
  });

  it('are anti-aliased: edge pixels mix the two colours', () => {
    const v = shapesVideo(5, { attributes: { shape: 'circle', motion: 'still', colour: 'red', background: 'black' } });
    const fg = unit(COLOURS.red), bg = unit(BACKGROUND_COLOURS.black);
    let partial = 0;
    for (let y = 0; y < 32; y++) {
      for (let x = 0; x < 32; x++) {
        const p = pixel(v, 0, x, y);
        if (dist2(p, fg) > 1e-3 && dist2(p, bg) > 1e-3) partial++;
      }
    }
    expect(partial).toBeGreaterThan(8);
  });

  it('look different for each shape', () => {
    const masks = SHAPES.map((shape) => {
      const v = shapesVideo(9, { attributes: { shape, motion: 'still', colour: 'yellow', background: 'black' }, height: 32, width: 32 });
      return Array.from({ length: 32 * 32 }, (_, i) => (v.frames[i]! > 0 ? 1 : 0)).join('');
    });
    expect(new Set(masks).size).toBe(SHAPES.length);
  });
});

describe('tiny_shapes captions', () => {
  it('read like "a red circle moving left on a dark blue background"', () => {
    const a: ShapeAttributes = { shape: 'circle', colour: 'red', motion: 'left', background: 'dark blue' };
    expect(captionFor(a)).toBe('a red circle moving left on a dark blue background');
    expect(captionFor({ shape: 'star', colour: 'orange', motion: 'still', background: 'beige and black' })).toBe(
      'an orange star staying still on a beige and black background',
    );
    expect(captionFor({ shape: 'square', colour: 'blue', motion: 'growing', background: 'grey' })).toBe('a blue square growing on a grey background');
    expect(() => captionFor({ ...a, background: 'black and black' })).toThrow(/two different colours/);
    expect(() => captionFor({ ...a, background: 'plaid' as never })).toThrow(/unknown background 'plaid'/);
  });

  it('parse back to the attributes, for every caption', () => {
    const all = allCaptions();
    expect(all.length).toBe(captionCount());
    expect(new Set(all).size).toBe(all.length);
    for (const caption of all) expect(captionFor(parseCaption(caption)!)).toBe(caption);
    for (const item of shapesDataset(4, 50)) expect(parseCaption(item.caption)).toEqual(item.attributes);
  });

  it('parse forgivingly, and reject what is not a caption', () => {
    expect(parseCaption('  A Red  Circle moving left on a dark blue background. ')).toEqual({
      shape: 'circle', colour: 'red', motion: 'left', background: 'dark blue',
    });
    expect(parseCaption('a red circle moving sideways on a dark blue background')).toBeNull();
    expect(parseCaption('a mauve circle moving left on a black background')).toBeNull();
    expect(parseCaption('a red circle moving left on a black and black background')).toBeNull();
    expect(parseCaption('a red circle moving left on a black and grey and white background')).toBeNull();
    expect(parseCaption('a fox running through snow')).toBeNull();
    expect(parseCaption('')).toBeNull();
  });
});
