/**
 * Real esbuild bundling of a HandlerFunction (the other infra tests skip it):
 * the policy bundle arrives in the code as the string constant
 * COUNTERSIGN_POLICY_BUNDLE, byte for byte, however awkward its text.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, describe, expect, it } from 'vitest';
import { type EmbeddedPolicyBundle, HandlerFunction, REPO_ROOT } from '../../lib/handler-function.js';

// Inside the repository, so esbuild resolves from its node_modules; test/artifacts is git-ignored.
const artifacts = path.join(REPO_ROOT, 'test', 'artifacts');
mkdirSync(artifacts, { recursive: true });
const projectRoot = mkdtempSync(path.join(artifacts, 'bundling-'));
const outdir = mkdtempSync(path.join(os.tmpdir(), 'countersign-bundling-'));
afterAll(() => {
  rmSync(projectRoot, { recursive: true, force: true });
  rmSync(outdir, { recursive: true, force: true });
});

const awkward: EmbeddedPolicyBundle = {
  schema: 'namespace Countersign { entity Agent; }\n',
  policies: {
    quotes: `@id("quotes") permit (principal, action, resource) when { context.reason == "it's \\"fine\\"" };`,
    shell: 'forbid (principal, action, resource) when { context.x == "$HOME `id` $(rm -rf /) \\\\ ;&|" };',
    unicode: 'permit (principal, action, resource); // naïve – ✓ \u2028 end',
  },
  digest: 'sha256:abc',
};

describe('HandlerFunction bundling', () => {
  it('embeds the policy bundle as a JSON string constant, sets its digest, and ships copyFiles beside index.js', () => {
    // Prepare
    mkdirSync(path.join(projectRoot, 'lambdas', 'probe'), { recursive: true });
    writeFileSync(
      path.join(projectRoot, 'lambdas', 'probe', 'handler.ts'),
      'declare const COUNTERSIGN_POLICY_BUNDLE: string;\n' +
        'export const handler = async () => JSON.parse(COUNTERSIGN_POLICY_BUNDLE);\n',
    );
    writeFileSync(path.join(projectRoot, 'package-lock.json'), '{"lockfileVersion":3,"packages":{}}\n');
    writeFileSync(path.join(projectRoot, 'lambdas', 'probe', "it's.wasm"), 'wasm bytes');
    const app = new App({ outdir });
    const stack = new Stack(app, 'Probe', { env: { account: '123456789012', region: 'eu-west-1' } });
    new HandlerFunction(stack, 'Probe', {
      name: 'probe',
      projectRoot,
      policyBundle: awkward,
      copyFiles: ["lambdas/probe/it's.wasm"],
    });

    // Act
    app.synth();
    const template = Template.fromStack(stack);

    // Assess
    const fn = Object.values(template.findResources('AWS::Lambda::Function'))[0]!;
    expect(fn.Properties.Environment.Variables.COUNTERSIGN_POLICY_DIGEST).toBe('sha256:abc');
    const hash = String(fn.Properties.Code.S3Key).replace(/\.zip$/, '');
    const assetDir = path.join(outdir, `asset.${hash}`);
    const code = readFileSync(path.join(assetDir, 'index.js'), 'utf8');
    expect(existsSync(path.join(assetDir, 'index.js.map'))).toBe(false);
    expect(readFileSync(path.join(assetDir, "it's.wasm"), 'utf8')).toBe('wasm bytes');
    expect(code).toMatch(/module\.exports|exports\.handler|__export/); // CommonJS
    const mod = createRequire(import.meta.url)(path.join(assetDir, 'index.js')) as {
      handler: () => Promise<unknown>;
    };
    return expect(mod.handler()).resolves.toEqual(awkward);
  });
});
