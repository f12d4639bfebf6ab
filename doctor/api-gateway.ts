/**
 * Reads API Gateway's account settings (`GET /account`, the REST API's
 * CloudWatch role) with a SigV4-signed request. One read-only call does not
 * justify another SDK client; the credentials and region are those of an
 * SDK client doctor already built, and the endpoint follows the SDK's own
 * variables (`AWS_ENDPOINT_URL_API_GATEWAY`, then `AWS_ENDPOINT_URL`).
 */
import { createHash, createHmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import type { ApiGatewayAccountReader } from './checks.js';

const bytes = (data: string | ArrayBuffer | ArrayBufferView): string | Uint8Array =>
  typeof data === 'string'
    ? data
    : ArrayBuffer.isView(data)
      ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
      : new Uint8Array(data);

/** SHA-256 (and HMAC-SHA256 with a secret) in the shape the signer expects. */
class Sha256 {
  private hash;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.hash.update(bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
  reset(): void {}
}

/** Where and as whom to call API Gateway. */
export interface ApiGatewayAccountOptions {
  region: string;
  credentials: () => Promise<{ accessKeyId: string; secretAccessKey: string; sessionToken?: string }>;
  /** @default AWS_ENDPOINT_URL_API_GATEWAY ?? AWS_ENDPOINT_URL ?? https://apigateway.<region>.amazonaws.com */
  endpoint?: string;
}

/** An {@link ApiGatewayAccountReader} over HTTPS. */
export function apiGatewayAccountReader(options: ApiGatewayAccountOptions): ApiGatewayAccountReader {
  const base =
    options.endpoint ??
    process.env.AWS_ENDPOINT_URL_API_GATEWAY ??
    process.env.AWS_ENDPOINT_URL ??
    `https://apigateway.${options.region}.amazonaws.com`;
  const signer = new SignatureV4({
    service: 'apigateway',
    region: options.region,
    credentials: options.credentials,
    sha256: Sha256,
  });
  return {
    async getAccount() {
      const url = new URL('/account', base);
      const signed = await signer.sign({
        method: 'GET',
        protocol: url.protocol,
        hostname: url.hostname,
        port: url.port ? Number(url.port) : undefined,
        path: url.pathname,
        headers: { host: url.host, accept: 'application/json' },
      });
      const response = await fetch(url, { headers: signed.headers });
      const body = (await response.json().catch(() => ({}))) as {
        cloudwatchRoleArn?: string;
        message?: string;
      };
      if (!response.ok) {
        const name = response.status === 403 ? 'AccessDeniedException' : `HTTP${response.status}`;
        throw Object.assign(new Error(body.message ?? `GET /account answered ${response.status}`), {
          name,
          $metadata: { httpStatusCode: response.status },
        });
      }
      return body.cloudwatchRoleArn ? { cloudwatchRoleArn: body.cloudwatchRoleArn } : {};
    },
  };
}
