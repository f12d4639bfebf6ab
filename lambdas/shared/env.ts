/**
 * Environment configuration, read once at module load so a missing variable
 * fails the cold start, not the first request.
 */

/** Returns the variable or throws naming it. */
export function requireEnv(name: string): string {
  const value = process.env[name];
  if (value === undefined || value.trim() === '') throw new Error(`missing environment variable ${name}`);
  return value;
}

/** Returns a positive integer variable or throws naming it. */
export function requireIntEnv(name: string): number {
  const raw = requireEnv(name);
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0)
    throw new Error(`${name} must be a positive integer, got "${raw}"`);
  return value;
}

/** Returns the variable, or undefined when unset or blank. */
export function optionalEnv(name: string): string | undefined {
  const value = process.env[name];
  return value === undefined || value.trim() === '' ? undefined : value;
}
