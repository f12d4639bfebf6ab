/** The mutation runner's verdict: per-file scores as Stryker counts them, and the threshold. */
import { describe, expect, it } from 'vitest';
import {
  belowThreshold,
  formatScore,
  formatUndetected,
  type MutationReport,
  type ReportMutant,
  scoreFiles,
  scoreGroup,
} from './score.js';

const mutant = (status: string, line = 1): ReportMutant => ({
  id: `${status}-${line}`,
  mutatorName: 'ConditionalExpression',
  status,
  replacement: 'false',
  location: { start: { line, column: 3 } },
});

const report: MutationReport = {
  files: {
    'lambdas/b.ts': {
      mutants: [
        mutant('Killed'),
        mutant('Killed'),
        mutant('Timeout'),
        mutant('Survived', 7),
        mutant('Ignored'),
      ],
    },
    'lambdas/a.ts': { mutants: [mutant('Killed'), mutant('NoCoverage', 9), mutant('CompileError')] },
    'lambdas/c.ts': { mutants: [mutant('Ignored')] },
  },
};

describe('scoreFiles', () => {
  it('counts killed and timed-out as detected, survived and uncovered against, errors and equivalents not at all', () => {
    // Act
    const [a, b, c] = scoreFiles(report);

    // Assess
    expect(a).toMatchObject({ file: 'lambdas/a.ts', killed: 1, noCoverage: 1, errors: 1, score: 50 });
    expect(b).toMatchObject({
      file: 'lambdas/b.ts',
      killed: 2,
      timeout: 1,
      survived: 1,
      ignored: 1,
      score: 75,
    });
    expect(c).toMatchObject({ file: 'lambdas/c.ts', score: 100 });
    expect(b?.undetected.map((m) => m.status)).toEqual(['Survived']);
  });

  it('scores a group over all its files and lists the files below the threshold', () => {
    // Act
    const group = scoreGroup('g', report);
    const low = belowThreshold(scoreFiles(report), 90);

    // Assess
    expect(group.score).toBeCloseTo((100 * 4) / 6);
    expect(low.map((s) => s.file)).toEqual(['lambdas/a.ts', 'lambdas/b.ts']);
    expect(belowThreshold(scoreFiles(report), 50).map((s) => s.file)).toEqual([]);
  });

  it('prints a score line and one line per undetected mutant with its place', () => {
    // Prepare
    const b = scoreFiles(report)[1]!;

    // Act
    const line = formatScore(b);
    const gaps = formatUndetected(b);

    // Assess
    expect(line).toMatch(
      /^ {2}75\.0 % {2}lambdas\/b\.ts +killed 3, survived 1, no coverage 0, equivalent 1$/,
    );
    expect(gaps).toEqual(['    Survived   lambdas/b.ts:7:3 ConditionalExpression -> false']);
  });
});
