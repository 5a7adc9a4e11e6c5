// The banner printed before a run starts: labelled totals, aligned, with large counts in
// k/M/B units so that "trainable parameters 1.57M" reads at a glance.

export interface BannerItem {
  label: string;
  /** Numbers are formatted with formatCount; strings are shown as they are. */
  value: number | string;
}

const UNITS: ReadonlyArray<{ suffix: string; size: number }> = [
  { suffix: 'T', size: 1e12 },
  { suffix: 'B', size: 1e9 },
  { suffix: 'M', size: 1e6 },
  { suffix: 'k', size: 1e3 },
];

/**
 * A count with three significant digits and a unit: 999 -> '999', 1234 -> '1.23k',
 * 1234567 -> '1.23M', 2.5e9 -> '2.5B'. Values that would round up to the next unit move
 * to it (999_999 -> '1M', not '1000k').
 */
export function formatCount(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const sign = value < 0 ? '-' : '';
  const magnitude = Math.abs(value);
  for (let i = 0; i < UNITS.length; i++) {
    const { suffix, size } = UNITS[i]!;
    if (magnitude < size) continue;
    const scaled = Number((magnitude / size).toPrecision(3));
    // 999.6k rounds to 1000k: show it in the next unit up when there is one.
    if (scaled >= 1000 && i > 0) return `${sign}${Number((magnitude / UNITS[i - 1]!.size).toPrecision(3))}${UNITS[i - 1]!.suffix}`;
    return `${sign}${scaled}${suffix}`;
  }
  if (Number.isInteger(magnitude)) {
    // 999.7 would be an integer below 1000 only after rounding; integers print as they are.
    return `${sign}${magnitude}`;
  }
  const small = Number(magnitude.toPrecision(3));
  return small >= 1000 ? `${sign}1k` : `${sign}${small}`;
}

/** Renders the banner as lines: a title, then `label  value` rows with labels padded. */
export function formatBanner(title: string, items: readonly BannerItem[]): string {
  const width = Math.max(0, ...items.map((item) => item.label.length));
  const rows = items.map(({ label, value }) => {
    const text = typeof value === 'number' ? formatCount(value) : value;
    return `  ${label.padEnd(width)}  ${text}`;
  });
  return [title, ...rows].join('\n') + '\n';
}
