/**
 * Hold-out sets for gate tests, built from groups of identical rows: how many
 * rows, their label, whether each model got them right, and their segment.
 * A right answer scores 0.8 for the true class, a wrong one 0.3 (or `wrongScore`).
 */
export interface RowGroup {
  readonly rows: number;
  readonly championRight: boolean;
  readonly candidateRight: boolean;
  readonly segment?: string;
  /** Probability the candidate gives the true class when wrong (default 0.3). */
  readonly candidateWrongScore?: number;
}

export function holdout(groups: readonly RowGroup[]) {
  const yTrue: number[] = [];
  const champion: number[] = [];
  const candidate: number[] = [];
  const region: string[] = [];
  for (const g of groups) {
    for (let i = 0; i < g.rows; i++) {
      const y = i % 2;
      const toClass = (trueClassProbability: number) =>
        y === 1 ? trueClassProbability : 1 - trueClassProbability;
      yTrue.push(y);
      champion.push(toClass(g.championRight ? 0.8 : 0.3));
      candidate.push(toClass(g.candidateRight ? 0.8 : (g.candidateWrongScore ?? 0.3)));
      region.push(g.segment ?? 'all');
    }
  }
  return { yTrue, champion, candidate, segments: { region } };
}

/** A 2×2 paired table: both right, b (champion only), c (candidate only), both wrong. */
export function table(
  bothRight: number,
  b: number,
  c: number,
  bothWrong: number,
  extra: Partial<RowGroup> = {},
): RowGroup[] {
  return [
    { rows: bothRight, championRight: true, candidateRight: true, ...extra },
    { rows: b, championRight: true, candidateRight: false, ...extra },
    { rows: c, championRight: false, candidateRight: true, ...extra },
    { rows: bothWrong, championRight: false, candidateRight: false, ...extra },
  ];
}
