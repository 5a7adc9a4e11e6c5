// "Did you mean ...?": the closest known name by Damerau-Levenshtein distance (optimal string
// alignment: insertions, deletions, substitutions and swaps of neighbours each cost 1).

export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2][j - 2] + 1);
      d[i][j] = best;
    }
  }
  return d[a.length][b.length];
}

/**
 * The closest candidate, if it is close enough to be a plausible typo: two edits, or a third of
 * the longer name's letters when that is more (so `pickscor` finds `pickscore`, `dimm` finds
 * `ddim`, and `xyz` finds nothing).
 */
export function closestName(name: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = candidate.toLowerCase() === name.toLowerCase() ? 0.5 : editDistance(name, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  if (best === undefined) return undefined;
  const length = Math.max(name.length, best.length);
  const allowed = length <= 3 ? 1 : Math.max(2, Math.floor(length / 3));
  return bestDistance <= allowed ? best : undefined;
}

/** "one of: a, b, c" (shortened when long), for help lines with no close match. */
export function listNames(names: readonly string[], limit = 8): string {
  const shown = names.slice(0, limit).map((n) => `'${n}'`);
  return names.length > limit ? `${shown.join(', ')}, ...` : shown.join(', ');
}
