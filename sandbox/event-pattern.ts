/**
 * EventBridge event-pattern matching for the local bus: the subset of the
 * pattern language Countersign's rules use and a little more — exact values,
 * `prefix`, `suffix`, `anything-but`, `exists`, `equals-ignore-case`,
 * `wildcard` and `numeric`, nested to any depth, with array-valued event fields
 * matching when any element matches.
 */

type Pattern = Record<string, unknown>;

function matchesFilter(filter: unknown, value: unknown, present: boolean): boolean {
  if (filter === null || typeof filter !== 'object') {
    return present && (Array.isArray(value) ? value.some((v) => v === filter) : value === filter);
  }
  const rule = filter as Record<string, unknown>;
  if ('exists' in rule) return rule.exists === present;
  if (!present) return false;
  const values = Array.isArray(value) ? value : [value];
  return values.some((v) => matchesRule(rule, v));
}

function matchesRule(rule: Record<string, unknown>, value: unknown): boolean {
  if ('prefix' in rule) {
    const p = rule.prefix;
    if (typeof p === 'string') return typeof value === 'string' && value.startsWith(p);
    const ci = (p as { 'equals-ignore-case'?: string })['equals-ignore-case'];
    return (
      typeof value === 'string' && typeof ci === 'string' && value.toLowerCase().startsWith(ci.toLowerCase())
    );
  }
  if ('suffix' in rule) return typeof value === 'string' && value.endsWith(String(rule.suffix));
  if ('equals-ignore-case' in rule) {
    return (
      typeof value === 'string' && value.toLowerCase() === String(rule['equals-ignore-case']).toLowerCase()
    );
  }
  if ('wildcard' in rule) {
    const source = String(rule.wildcard)
      .split('*')
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*');
    return typeof value === 'string' && new RegExp(`^${source}$`, 's').test(value);
  }
  if ('anything-but' in rule) {
    const but = rule['anything-but'];
    if (Array.isArray(but)) return !but.includes(value);
    if (but !== null && typeof but === 'object') return !matchesRule(but as Record<string, unknown>, value);
    return value !== but;
  }
  if ('numeric' in rule) {
    if (typeof value !== 'number') return false;
    const ops = rule.numeric as unknown[];
    for (let i = 0; i + 1 < ops.length; i += 2) {
      const op = ops[i];
      const operand = Number(ops[i + 1]);
      const ok =
        op === '='
          ? value === operand
          : op === '<'
            ? value < operand
            : op === '<='
              ? value <= operand
              : op === '>'
                ? value > operand
                : op === '>='
                  ? value >= operand
                  : false;
      if (!ok) return false;
    }
    return true;
  }
  throw new Error(`unsupported event pattern operator: ${JSON.stringify(rule)}`);
}

/** True when `event` matches `pattern` (an EventBridge event pattern). */
export function matchesPattern(pattern: Pattern, event: unknown): boolean {
  const object = (event ?? {}) as Record<string, unknown>;
  for (const [key, expected] of Object.entries(pattern)) {
    const present = Object.hasOwn(object, key) && object[key] !== undefined;
    const value = object[key];
    if (Array.isArray(expected)) {
      if (!expected.some((filter) => matchesFilter(filter, value, present))) return false;
    } else if (expected !== null && typeof expected === 'object') {
      if (!present || value === null || typeof value !== 'object' || Array.isArray(value)) return false;
      if (!matchesPattern(expected as Pattern, value)) return false;
    } else {
      throw new Error(`event pattern field "${key}" must be an array or an object`);
    }
  }
  return true;
}
