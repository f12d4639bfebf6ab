/**
 * Scores a Stryker JSON report (the mutation-testing-report schema) per source
 * file, the way Stryker itself scores: killed and timed-out mutants count as
 * detected; survived and uncovered mutants count against the score; mutants
 * that did not compile, crashed the runner or were disabled in the source are
 * left out. Pure, so the runner's verdict can be tested without running Stryker.
 */

/** The parts of one mutant the score reads. */
export interface ReportMutant {
  readonly id: string;
  readonly mutatorName: string;
  readonly status: string;
  readonly replacement?: string;
  readonly location: { readonly start: { readonly line: number; readonly column: number } };
}

/** The parts of a Stryker JSON report the score reads. */
export interface MutationReport {
  readonly files: Readonly<Record<string, { readonly mutants: readonly ReportMutant[] }>>;
}

/** Counts and score of one source file (or a whole group). */
export interface FileScore {
  readonly file: string;
  readonly killed: number;
  readonly timeout: number;
  readonly survived: number;
  readonly noCoverage: number;
  /** Disabled in the source as equivalent (`// Stryker disable ...`). */
  readonly ignored: number;
  /** Compile or runtime errors: not counted either way. */
  readonly errors: number;
  /** Detected / (detected + undetected), in percent; 100 when nothing is scorable. */
  readonly score: number;
  /** Survivors and uncovered mutants, to print where the gaps are. */
  readonly undetected: readonly ReportMutant[];
}

const DETECTED = new Set(['Killed', 'Timeout']);
const UNDETECTED = new Set(['Survived', 'NoCoverage']);

function tally(file: string, mutants: readonly ReportMutant[]): FileScore {
  const count = (status: string) => mutants.filter((m) => m.status === status).length;
  const detected = mutants.filter((m) => DETECTED.has(m.status)).length;
  const undetected = mutants.filter((m) => UNDETECTED.has(m.status));
  const scorable = detected + undetected.length;
  return {
    file,
    killed: count('Killed'),
    timeout: count('Timeout'),
    survived: count('Survived'),
    noCoverage: count('NoCoverage'),
    ignored: count('Ignored'),
    errors: count('CompileError') + count('RuntimeError'),
    score: scorable === 0 ? 100 : (100 * detected) / scorable,
    undetected,
  };
}

/** One score per source file in the report, sorted by path. */
export function scoreFiles(report: MutationReport): FileScore[] {
  return Object.keys(report.files)
    .sort()
    .map((file) => tally(file, report.files[file]!.mutants));
}

/** The score of all files of a report together (a group). */
export function scoreGroup(name: string, report: MutationReport): FileScore {
  return tally(
    name,
    Object.values(report.files).flatMap((f) => f.mutants),
  );
}

/** Files scoring below the threshold (percent). */
export function belowThreshold(scores: readonly FileScore[], threshold: number): FileScore[] {
  return scores.filter((s) => s.score < threshold);
}

/** A fixed-width table line for one score. */
export function formatScore(s: FileScore): string {
  const pct = `${s.score.toFixed(1)} %`.padStart(8);
  const counts = `killed ${s.killed + s.timeout}, survived ${s.survived}, no coverage ${s.noCoverage}`;
  const extra = [s.ignored ? `equivalent ${s.ignored}` : '', s.errors ? `errors ${s.errors}` : '']
    .filter(Boolean)
    .join(', ');
  return `${pct}  ${s.file.padEnd(44)} ${counts}${extra ? `, ${extra}` : ''}`;
}

/** One line per undetected mutant: where, which mutator, what it became. */
export function formatUndetected(s: FileScore): string[] {
  return s.undetected.map((m) => {
    const at = `${s.file}:${m.location.start.line}:${m.location.start.column}`;
    const replacement = (m.replacement ?? '').replace(/\s+/g, ' ').slice(0, 80);
    return `    ${m.status.padEnd(10)} ${at} ${m.mutatorName} -> ${replacement}`;
  });
}
