/**
 * The approval workflow's Amazon States Language, checked with asl-validator:
 * the definition exactly as the synthesized template carries it (the
 * `DefinitionString` with every intrinsic resolved to placeholder ARNs), and
 * corrupted copies it must reject, so the check can fail.
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { synthDeployed } from '../proof/template.js';
import { deployedDefinition } from '../proof/workflow.js';

type AslValidator = (
  definition: unknown,
  options?: { checkPaths?: boolean; checkArn?: boolean },
) => {
  isValid: boolean;
  errors: { 'Error code'?: string; Message?: string }[];
  errorsText(separator?: string): string;
};
const validate = createRequire(import.meta.url)('asl-validator') as AslValidator;

const definition = deployedDefinition(synthDeployed());
const copy = () =>
  structuredClone(definition) as { StartAt?: string; States: Record<string, Record<string, unknown>> };

describe('workflow definition (asl-validator)', () => {
  it('is valid ASL, paths and ARNs included', () => {
    const result = validate(definition, { checkPaths: true, checkArn: true });
    expect(result.errorsText(), 'asl-validator').toBe('');
    expect(result.isValid).toBe(true);
    expect(Object.keys(definition.States).length).toBeGreaterThanOrEqual(9);
  });

  it('rejects a copy whose transition names a state that does not exist', () => {
    const broken = copy();
    const [name, state] = Object.entries(broken.States).find(([, s]) => typeof s.Next === 'string')!;
    state.Next = 'NoSuchState';
    const result = validate(broken);
    expect(result.isValid, name).toBe(false);
    expect(result.errorsText()).toMatch(/NoSuchState/);
  });

  it('rejects a copy with no StartAt, and a Task state with no Resource', () => {
    const noStart = copy();
    delete noStart.StartAt;
    expect(validate(noStart).isValid).toBe(false);
    const noResource = copy();
    const task = Object.values(noResource.States).find((s) => s.Type === 'Task')!;
    delete task.Resource;
    expect(validate(noResource).isValid).toBe(false);
  });

  it('rejects a copy with a malformed JSONPath', () => {
    const broken = copy();
    const task = Object.values(broken.States).find(
      (s) => s.Type === 'Task' && typeof s.ResultPath === 'string',
    )!;
    task.ResultPath = '$..[';
    expect(validate(broken, { checkPaths: true }).isValid).toBe(false);
  });
});
