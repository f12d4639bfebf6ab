/**
 * HTTP calls to the status API, signed with SigV4 (service `execute-api`) when
 * credentials are available. The sandbox's status endpoint on a loopback
 * address accepts unsigned calls, so there a missing credential is not an error.
 */
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity } from '@smithy/types';
import { CredentialsError } from './errors.js';

/** Resolves AWS credentials (the SDK's provider shape). */
export type CredentialsProvider = () => Promise<AwsCredentialIdentity>;

/** A fetch implementation (global fetch, or a test double). */
export type FetchLike = (
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string },
) => Promise<{
  status: number;
  text(): Promise<string>;
}>;

/** Where and how to call the status API. */
export interface HttpTarget {
  /** Base URL: the stack output `StatusApiUrl`, or the sandbox (`http://127.0.0.1:4010`). */
  statusUrl: string;
  /** @default globalThis.fetch */
  fetch?: FetchLike;
  /** @default - the SDK's default chain (through an EventBridge client's config) */
  credentials?: CredentialsProvider;
  /** Signing region. @default - from the URL (`*.execute-api.<region>.amazonaws.com`), else AWS_REGION */
  region?: string;
}

/** SHA-256 / HMAC-SHA256 in the shape the signer wants, on node:crypto. */
class NodeSha256 {
  private hash: Hash | Hmac;
  constructor(private readonly secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash = this.fresh();
  }
  private fresh(): Hash | Hmac {
    if (this.secret === undefined) return createHash('sha256');
    const key =
      typeof this.secret === 'string'
        ? this.secret
        : ArrayBuffer.isView(this.secret)
          ? Buffer.from(this.secret.buffer, this.secret.byteOffset, this.secret.byteLength)
          : Buffer.from(this.secret);
    return createHmac('sha256', key);
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.hash.update(
      typeof data === 'string'
        ? data
        : ArrayBuffer.isView(data)
          ? Buffer.from(data.buffer, data.byteOffset, data.byteLength)
          : Buffer.from(data),
    );
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
  reset(): void {
    this.hash = this.fresh();
  }
}

const isLoopback = (host: string) =>
  host === '127.0.0.1' || host === 'localhost' || host === '[::1]' || host === '::1';

/** The signing region for a status URL. */
export function regionFor(url: URL, explicit?: string): string {
  if (explicit) return explicit;
  const m = /\.execute-api\.([a-z0-9-]+)\.amazonaws\.com$/.exec(url.hostname);
  return m?.[1] ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1';
}

let defaultProvider: Promise<CredentialsProvider> | undefined;

/**
 * The default credential chain, resolved through an SDK client's config (no
 * extra dependency). Built once per process: the SDK provider caches and
 * refreshes credentials itself, so polling does not resolve the chain again.
 */
export function defaultCredentials(): Promise<CredentialsProvider> {
  defaultProvider ??= import('@aws-sdk/client-eventbridge').then(({ EventBridgeClient }) => {
    const client = new EventBridgeClient({});
    return () => client.config.credentials();
  });
  return defaultProvider;
}

/** Calls `method path` on the status API; signs the request unless it goes to a loopback host without credentials. */
export async function signedRequest(
  target: HttpTarget,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
): Promise<{ status: number; json: unknown; text: string }> {
  const base = target.statusUrl.replace(/\/+$/, '');
  const url = new URL(`${base}${path}`);
  const text = body === undefined ? undefined : JSON.stringify(body);
  const headers: Record<string, string> = { host: url.host, accept: 'application/json' };
  if (text !== undefined) headers['content-type'] = 'application/json';

  let credentials: AwsCredentialIdentity | undefined;
  try {
    credentials = await (target.credentials ?? (await defaultCredentials()))();
  } catch (error) {
    if (!isLoopback(url.hostname)) {
      throw new CredentialsError(
        `no AWS credentials to sign the status API call: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (${(error as Error).message})`,
      );
    }
  }
  let sent = headers;
  if (credentials) {
    const signer = new SignatureV4({
      credentials,
      region: regionFor(url, target.region),
      service: 'execute-api',
      sha256: NodeSha256,
    });
    const query: Record<string, string> = {};
    url.searchParams.forEach((value, key) => {
      query[key] = value;
    });
    const signed = await signer.sign({
      method,
      protocol: url.protocol,
      hostname: url.hostname,
      ...(url.port ? { port: Number(url.port) } : {}),
      path: url.pathname,
      query,
      headers,
      ...(text !== undefined ? { body: text } : {}),
    });
    sent = signed.headers as Record<string, string>;
  }
  // fetch sets Host itself and refuses to be told.
  const { host: _host, ...fetchHeaders } = sent;
  const doFetch = target.fetch ?? (globalThis.fetch as unknown as FetchLike);
  const response = await doFetch(url.toString(), {
    method,
    headers: fetchHeaders,
    ...(text !== undefined ? { body: text } : {}),
  });
  const responseText = await response.text();
  let json: unknown;
  try {
    json = responseText ? JSON.parse(responseText) : undefined;
  } catch {
    json = undefined;
  }
  return { status: response.status, json, text: responseText };
}
