/**
 * The OpenAPI document in the repository is the API the handler serves: the
 * same routes and methods, the decision body schema generated from the zod
 * schema the handler parses with, and every field of a served request
 * declared (and every required one present). A drift fails here.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { API_ROUTES } from '../../lambdas/web/api.js';
import { decisionBodySchema } from '../../lambdas/web/contract.js';
import { handleWeb } from '../../lambdas/web/core.js';
import { seedPendingRequest } from '../support/fixtures.js';
import { startWebCore, webRequest } from './support.js';

const doc = JSON.parse(readFileSync(resolve(import.meta.dirname, '../../openapi/approval-api.json'), 'utf8'));

let env: Awaited<ReturnType<typeof startWebCore>>;
beforeAll(async () => {
  env = await startWebCore();
});
afterAll(async () => env.close());

describe('openapi/approval-api.json', () => {
  it('is OpenAPI 3.1 with bearer authentication on every operation', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.security).toEqual([{ idpBearer: [] }]);
    expect(doc.components.securitySchemes.idpBearer).toMatchObject({ type: 'http', scheme: 'bearer' });
  });

  it('documents exactly the routes the handler serves', () => {
    const documented = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(
      ([path, ops]) => Object.keys(ops).map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(documented.sort()).toEqual(API_ROUTES.map((r) => `${r.method} ${r.path}`).sort());
  });

  it('documents 401, 404/400 and, for decisions, 403 and 409', () => {
    for (const [, ops] of Object.entries(
      doc.paths as Record<string, Record<string, { responses: object }>>,
    )) {
      for (const op of Object.values(ops)) expect(Object.keys(op.responses)).toContain('401');
    }
    const decide = doc.paths['/v1/requests/{id}/decision'].post.responses;
    for (const status of ['200', '400', '401', '403', '404', '409'])
      expect(Object.keys(decide)).toContain(status);
  });

  it('has the decision body schema the handler parses with', () => {
    const { $schema: _, ...generated } = z.toJSONSchema(decisionBodySchema, { io: 'input' }) as Record<
      string,
      unknown
    >;
    expect(doc.components.schemas.DecisionBody).toEqual(generated);
  });

  it('declares every field of a served request, and the served request has every required one', async () => {
    // Prepare
    const request = await seedPendingRequest(env.deps.core, {
      intent: { context: { impact: 'i', diff: 'd', datasets: ['s3://a'] } },
      review: { editable: ['roleName'] },
    });
    // Act
    const answer = await handleWeb(
      env.deps,
      webRequest({
        path: `/v1/requests/${request.intentId}`,
        headers: { authorization: `Bearer ${await env.issuer.sign('alice')}` },
      }),
    );
    // Assess
    const served = JSON.parse(answer.body) as Record<string, unknown>;
    const schema = doc.components.schemas.Request;
    expect(answer.statusCode).toBe(200);
    for (const key of Object.keys(served)) expect(schema.properties, key).toHaveProperty(key);
    for (const key of schema.required as string[]) expect(served, key).toHaveProperty(key);
    expect(served.intentHash).toMatch(new RegExp(schema.properties.intentHash.pattern));
  });
});
