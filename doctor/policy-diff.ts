/**
 * Statement-by-statement comparison of two resource policies, insensitive to
 * the rewrites AWS applies when it stores one: a scalar and a one-element list
 * are the same, list order does not matter, `"*"` and `{"AWS": "*"}` are the
 * same principal, and a bare account id is that account's root.
 */
import type { PolicyStatement } from './template.js';

const asSet = (value: unknown): string[] =>
  [...new Set((Array.isArray(value) ? value : [value]).map((v) => String(v)))].sort();

function principal(value: unknown): unknown {
  if (value === undefined) return undefined;
  if (value === '*') return { AWS: ['*'] };
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.entries(value)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([kind, ids]) => [
        kind,
        asSet(ids).map((id) => (kind === 'AWS' && /^\d{12}$/.test(id) ? `arn:aws:iam::${id}:root` : id)),
      ]),
  );
}

function condition(value: PolicyStatement['Condition']): unknown {
  if (value === undefined) return undefined;
  return Object.fromEntries(
    Object.entries(value)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([operator, keys]) => [
        operator,
        Object.fromEntries(
          Object.entries(keys)
            .sort(([a], [b]) => a.localeCompare(b))
            .map(([key, values]) => [key, asSet(values)]),
        ),
      ]),
  );
}

/** A statement's content as one comparable string (the Sid is not part of it). */
export function canonicalStatement(statement: PolicyStatement): string {
  const optionalSet = (v: unknown) => (v === undefined ? undefined : asSet(v));
  return JSON.stringify({
    Effect: statement.Effect,
    Principal: principal(statement.Principal),
    NotPrincipal: principal(statement.NotPrincipal),
    Action: optionalSet(statement.Action),
    NotAction: optionalSet(statement.NotAction),
    Resource: optionalSet(statement.Resource),
    NotResource: optionalSet(statement.NotResource),
    Condition: condition(statement.Condition),
  });
}

/** How a deployed policy differs from the intended one. */
export interface PolicyDiff {
  /** Sids (or summaries) of intended statements the deployed policy lacks. */
  missing: string[];
  /** Sids present in both whose content differs. */
  changed: string[];
  /** Sids (or summaries) of deployed statements nobody intended. */
  unexpected: string[];
}

const label = (s: PolicyStatement) => s.Sid ?? `${s.Effect} ${asSet(s.Action ?? s.NotAction).join(',')}`;

/** Compares statements by content, pairing them by Sid to tell "changed" from "missing". */
export function diffPolicies(intended: PolicyStatement[], deployed: PolicyStatement[]): PolicyDiff {
  const remaining = deployed.map((s) => ({ statement: s, key: canonicalStatement(s) }));
  const diff: PolicyDiff = { missing: [], changed: [], unexpected: [] };
  const unmatched: PolicyStatement[] = [];
  for (const statement of intended) {
    const key = canonicalStatement(statement);
    const at = remaining.findIndex((d) => d.key === key);
    if (at >= 0) remaining.splice(at, 1);
    else unmatched.push(statement);
  }
  for (const statement of unmatched) {
    const sameSid = remaining.findIndex(
      (d) => statement.Sid !== undefined && d.statement.Sid === statement.Sid,
    );
    if (sameSid >= 0) {
      remaining.splice(sameSid, 1);
      diff.changed.push(label(statement));
    } else {
      diff.missing.push(label(statement));
    }
  }
  diff.unexpected.push(...remaining.map((d) => label(d.statement)));
  return diff;
}
