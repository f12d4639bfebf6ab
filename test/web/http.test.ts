/**
 * The Lambda's HTTP shapes: API Gateway's payload 2.0 (cookies as a list, a
 * base64 body) becomes the web request the channel reads, and the answer's
 * cookies go back as `cookies`, never folded into one header.
 */
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { fromApiGateway, html, toApiGateway } from '../../lambdas/web/http.js';
import { parseCookies } from '../../lambdas/web/session.js';

describe('web HTTP shapes', () => {
  it('reads method, path, query, lower-case headers, the cookie list and a base64 form body', () => {
    // Prepare
    const event = {
      version: '2.0',
      rawPath: '/requests/intent-12345678/decision',
      rawQueryString: 'a=1&b=two',
      headers: { Origin: 'https://inbox.example', 'Content-Type': 'application/x-www-form-urlencoded' },
      cookies: ['__Host-countersign-session=v1.abc.def', 'other=x'],
      requestContext: { http: { method: 'post' }, domainName: 'inbox.example' },
      body: Buffer.from('csrf=t&decision=approve').toString('base64'),
      isBase64Encoded: true,
    } as unknown as APIGatewayProxyEventV2;
    // Act
    const request = fromApiGateway(event);
    // Assess
    expect(request).toMatchObject({
      method: 'POST',
      path: '/requests/intent-12345678/decision',
      body: 'csrf=t&decision=approve',
    });
    expect(request.query.get('b')).toBe('two');
    expect(request.headers.origin).toBe('https://inbox.example');
    expect(parseCookies(request.cookies)).toEqual({ '__Host-countersign-session': 'v1.abc.def', other: 'x' });
  });

  it('answers with the security headers and the cookies as a list', () => {
    // Act
    const result = toApiGateway(html(200, '<p>x</p>', 'ok', ['a=1; Path=/', 'b=2; Path=/']));
    // Assess
    expect(result.cookies).toEqual(['a=1; Path=/', 'b=2; Path=/']);
    expect(result.headers).toMatchObject({
      'content-security-policy': expect.stringContaining("default-src 'none'"),
      'x-frame-options': 'DENY',
      'cache-control': 'no-store',
    });
  });
});
