/**
 * The web channel's HTTP shapes: one request in (from API Gateway's HTTP API
 * payload 2.0, or the sandbox's server), one answer out, and the headers every
 * answer carries.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';

/** One HTTP request to the inbox or the API. */
export interface WebRequest {
  method: string;
  /** The path, without the query string. */
  path: string;
  query: URLSearchParams;
  /** Headers by lower-case name. */
  headers: Record<string, string | undefined>;
  /** `Cookie` header values (API Gateway splits them into a list). */
  cookies: string[];
  body: string;
}

/** One HTTP answer, and a word for what happened (metrics, tests). */
export interface WebAnswer {
  statusCode: number;
  headers: Record<string, string>;
  /** `Set-Cookie` values. */
  cookies?: string[];
  body: string;
  outcome: string;
}

/** Largest request body read (a decision with a reason and parameters fits many times over). */
export const MAX_BODY_BYTES = 64 * 1024;

/**
 * The inbox's Content Security Policy: nothing runs (no script source at all),
 * styles only from the inbox itself, forms post only to the inbox, and no
 * other site may frame it.
 */
export const CSP = [
  "default-src 'none'",
  "style-src 'self'",
  "img-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

/** Headers of every answer: nothing cached, nothing sniffed, no referrer leaked, no framing. */
export const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
  'x-frame-options': 'DENY',
  'cache-control': 'no-store',
  'strict-transport-security': 'max-age=31536000; includeSubDomains',
  'cross-origin-opener-policy': 'same-origin',
};

/** An HTML answer. */
export const html = (statusCode: number, body: string, outcome: string, cookies?: string[]): WebAnswer => ({
  statusCode,
  headers: { ...SECURITY_HEADERS, 'content-type': 'text/html; charset=utf-8' },
  ...(cookies ? { cookies } : {}),
  body,
  outcome,
});

/** A JSON answer. */
export const json = (
  statusCode: number,
  value: unknown,
  outcome: string,
  extra: Record<string, string> = {},
): WebAnswer => ({
  statusCode,
  headers: { ...SECURITY_HEADERS, 'content-type': 'application/json; charset=utf-8', ...extra },
  body: JSON.stringify(value),
  outcome,
});

/** A redirect (303: the browser follows with GET). */
export const redirect = (location: string, outcome: string, cookies?: string[]): WebAnswer => ({
  statusCode: 303,
  headers: { ...SECURITY_HEADERS, location },
  ...(cookies ? { cookies } : {}),
  body: '',
  outcome,
});

/** The web request of an HTTP API (payload format 2.0) event. */
export function fromApiGateway(event: APIGatewayProxyEventV2): WebRequest {
  const headers: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(event.headers ?? {})) headers[name.toLowerCase()] = value;
  const body = event.body
    ? event.isBase64Encoded
      ? Buffer.from(event.body, 'base64').toString('utf8')
      : event.body
    : '';
  return {
    method: event.requestContext.http.method.toUpperCase(),
    path: event.rawPath,
    query: new URLSearchParams(event.rawQueryString ?? ''),
    headers,
    cookies: event.cookies ?? (headers.cookie ? [headers.cookie] : []),
    body,
  };
}

/** The HTTP API result of a web answer. */
export function toApiGateway(answer: WebAnswer): APIGatewayProxyStructuredResultV2 {
  return {
    statusCode: answer.statusCode,
    headers: answer.headers,
    ...(answer.cookies?.length ? { cookies: answer.cookies } : {}),
    body: answer.body,
  };
}
