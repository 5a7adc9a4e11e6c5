import { describe, expect, it } from 'vitest';
import { SERIES_COLOURS, formatTick, niceTicks, renderLineChart } from '../../../runtime/report/chart.ts';

/** The polylines' point lists, parsed. */
function polylines(svg: string): Array<Array<[number, number]>> {
  return [...svg.matchAll(/<polyline[^>]*points="([^"]+)"/g)].map((m) =>
    m[1]!.split(' ').map((p) => p.split(',').map(Number) as [number, number]),
  );
}

describe('niceTicks', () => {
  it('picks round steps covering the range', () => {
    expect(niceTicks(0, 10)).toEqual([0, 2, 4, 6, 8, 10]);
    expect(niceTicks(0.12, 1.1)).toEqual([0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(1, 450)).toEqual([100, 200, 300, 400]);
    expect(niceTicks(5, 5)).toEqual([5]);
  });
  it('formats ticks compactly', () => {
    expect(formatTick(0.30000000000000004)).toBe('0.3');
    expect(formatTick(25_000)).toBe('25k');
  });
});

describe('renderLineChart', () => {
  it('maps steps left to right and larger values higher', () => {
    const svg = renderLineChart([{ name: 'reward', points: [[0, 1], [10, 3], [20, 2]] }], { title: 'Reward', width: 400, height: 200 });
    expect(svg.startsWith('<svg class="chart"')).toBe(true);
    expect(svg).toContain('>Reward</text>');
    const [line] = polylines(svg);
    expect(line).toHaveLength(3);
    const [a, b, c] = line!;
    expect(a![0]).toBeLessThan(b![0]);
    expect(b![0]).toBeLessThan(c![0]);
    expect(b![1]).toBeLessThan(c![1]); // SVG y grows downwards: 3 is above 2
    expect(c![1]).toBeLessThan(a![1]);
    expect(Math.min(...line!.map((p) => p[0]))).toBeGreaterThanOrEqual(0);
    expect(Math.max(...line!.map((p) => p[0]))).toBeLessThanOrEqual(400);
  });

  it('draws several series in distinct colours with a legend', () => {
    const svg = renderLineChart(
      [{ name: 'loss', points: [[1, 2], [2, 1]] }, { name: 'val/loss', points: [[1, 3], [2, 2]] }],
      { title: 'Loss' },
    );
    expect(polylines(svg)).toHaveLength(2);
    expect(svg).toContain(`stroke="${SERIES_COLOURS[0]}"`);
    expect(svg).toContain(`stroke="${SERIES_COLOURS[1]}"`);
    expect(svg).toContain('>val/loss</text>');
  });

  it('leaves a gap at non-finite values and marks lone points', () => {
    const svg = renderLineChart([{ name: 'loss', points: [[1, 1], [2, 2], [3, NaN], [4, 1], [5, 2], [6, Infinity], [7, 3]] }], { title: 'Loss' });
    expect(polylines(svg).map((l) => l.length)).toEqual([2, 2]);
    expect(svg.match(/<circle/g)).toHaveLength(1);
  });

  it('says so when nothing is finite, and escapes names', () => {
    const svg = renderLineChart([{ name: '<b>', points: [[1, NaN]] }], { title: 'a & b' });
    expect(svg).toContain('no finite values');
    expect(svg).toContain('a &amp; b');
    expect(svg).not.toContain('<b>');
  });

  it('thins long series to maxPoints, keeping the last point', () => {
    const points = Array.from({ length: 5000 }, (_, i) => [i, Math.sin(i / 100)] as const);
    const [line] = polylines(renderLineChart([{ name: 's', points }], { title: 't', maxPoints: 200, width: 500 }));
    expect(line).toHaveLength(200);
    expect(line![199]![0]).toBeCloseTo(500 - 16, 0); // the right edge of the plot
  });
});
