import { describe, expect, it } from 'vitest';
import { formatBanner, formatCount } from '../../../runtime/progress/banner.ts';

describe('formatCount', () => {
  it.each([
    [0, '0'],
    [7, '7'],
    [999, '999'],
    [1000, '1k'],
    [1234, '1.23k'],
    [45_678, '45.7k'],
    [999_999, '1M'],
    [1_234_567, '1.23M'],
    [1_570_000, '1.57M'],
    [2.5e9, '2.5B'],
    [1.3e12, '1.3T'],
    [-1234, '-1.23k'],
    [0.123456, '0.123'],
    [999.7, '1k'],
  ])('%d -> %s', (value, expected) => {
    expect(formatCount(value)).toBe(expected);
  });
});

describe('formatBanner', () => {
  it('aligns labels and formats numbers', () => {
    const text = formatBanner('vplc run pipelines/demo.vpl', [
      { label: 'effective batch', value: 32 },
      { label: 'optimizer steps', value: 450 },
      { label: 'model evaluations', value: 14_400 },
      { label: 'trainable parameters', value: 1_234_567 },
      { label: 'device', value: 'cpu' },
    ]);
    expect(text.split('\n')).toEqual([
      'vplc run pipelines/demo.vpl',
      '  effective batch       32',
      '  optimizer steps       450',
      '  model evaluations     14.4k',
      '  trainable parameters  1.23M',
      '  device                cpu',
      '',
    ]);
  });
});
