/**
 * Trace export on the synthesized template: off by default; when configured,
 * only the Review and Record functions get the endpoint, and only they may
 * read the headers secret. X-Ray stays on for the workflow and every function.
 */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config.js';
import { CDK_CONTEXT, statementsByRole, synth } from '../infra/support.js';

const ENDPOINT = 'https://otlp.example.com/v1/traces';
type Fn = {
  Properties: {
    Environment?: { Variables?: Record<string, unknown> };
    TracingConfig?: unknown;
    Role: unknown;
  };
};

const functions = (template: ReturnType<typeof synth>['template']) =>
  Object.entries(template.findResources('AWS::Lambda::Function') as Record<string, Fn>);

describe('trace export in the template', () => {
  it('is off by default: no function has an endpoint, no headers secret exists', () => {
    const { template } = synth();
    for (const [, fn] of functions(template))
      expect(fn.Properties.Environment?.Variables?.COUNTERSIGN_OTLP_ENDPOINT).toBeUndefined();
    expect(JSON.stringify(template.toJSON())).not.toContain('trace export headers');
  });

  it('configured: Review and Record alone export, and alone read the headers secret', () => {
    // Act
    const { template } = synth({ traceExport: { endpoint: ENDPOINT, headersSecret: true, timeoutMs: 1500 } });
    // Assess
    const exporting = functions(template).filter(
      ([, fn]) => fn.Properties.Environment?.Variables?.COUNTERSIGN_OTLP_ENDPOINT,
    );
    expect(exporting.map(([id]) => id).sort()).toEqual([
      expect.stringMatching(/RecordFunction/),
      expect.stringMatching(/ReviewFunction/),
    ]);
    const vars = exporting[0]![1].Properties.Environment!.Variables!;
    expect(vars).toMatchObject({ COUNTERSIGN_OTLP_ENDPOINT: ENDPOINT, COUNTERSIGN_OTLP_TIMEOUT_MS: '1500' });
    const [secretId] = Object.entries(
      template.findResources('AWS::SecretsManager::Secret') as Record<
        string,
        { Properties: { Description?: string } }
      >,
    )
      .filter(([, secret]) => secret.Properties.Description?.includes('trace export headers'))
      .map(([id]) => id);
    expect(secretId).toBeDefined();
    expect(vars.COUNTERSIGN_OTLP_HEADERS_SECRET_ARN).toEqual({ Ref: secretId });
    const exportingRoles = exporting.map(
      ([, fn]) => (fn.Properties.Role as { 'Fn::GetAtt': [string] })['Fn::GetAtt'][0],
    );
    for (const [role, statements] of statementsByRole(template)) {
      const reads = statements.some(
        (s) =>
          JSON.stringify(s.Resource ?? '').includes(secretId!) &&
          JSON.stringify(s.Action).includes('secretsmanager:GetSecretValue'),
      );
      expect(reads, role).toBe(exportingRoles.includes(role));
    }
  });

  it('X-Ray stays on for the workflow and every function', () => {
    const { template } = synth({ traceExport: { endpoint: ENDPOINT } });
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      TracingConfiguration: { Enabled: true },
    });
    for (const [id, fn] of functions(template))
      expect(fn.Properties.TracingConfig, id).toEqual({ Mode: 'Active' });
  });

  it.each([
    [{ endpoint: 'ftp://otlp.example.com/v1/traces' }, /traceExport\.endpoint/],
    [{ endpoint: ENDPOINT, timeoutMs: 50 }, /traceExport\.timeoutMs/],
    [{ endpoint: ENDPOINT, headers: { 'x-api-key': 'k' } }, /traceExport/],
  ])('%j is refused at synth, naming the key', (traceExport, reason) => {
    expect(() => loadConfig(CDK_CONTEXT.countersign, { traceExport })).toThrow(reason);
  });
});
