/**
 * How tools find a local sandbox: at start the sandbox writes `sandbox.json`
 * in its data directory (its URL, the S3 and DynamoDB endpoints, the bucket,
 * the table and the path of its digest public key); `countersign audit …
 * --sandbox` reads it, checks that the sandbox answering at that URL is the
 * one that wrote it, and talks to its endpoints. Only the AWS SDK's S3 and
 * DynamoDB clients are loaded here, never the emulators.
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/** Region and credentials every local client uses (the local servers accept any). */
export const LOCAL_REGION = 'us-east-1';
export const LOCAL_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

/** Name of the discovery file in the data directory. */
export const SANDBOX_INFO_FILE = 'sandbox.json';
/** The sandbox's digest signing key (PKCS#8 PEM, P-256) and its public half (SPKI PEM). */
export const DIGEST_KEY_FILE = 'digest-key.pem';
export const DIGEST_PUBLIC_KEY_FILE = 'digest-public.pem';

/** What `sandbox.json` holds. */
export interface SandboxInfo {
  v: 1;
  /** Identifies one run: the server echoes it on `GET /api/sandbox`. */
  runId: string;
  /** The sandbox's base URL, e.g. `http://127.0.0.1:4010`. */
  url: string;
  pid: number;
  startedAt: string;
  /** Absolute path of the data directory. */
  dataDir: string;
  endpoints: { s3: string; dynamodb: string };
  bucket: string;
  table: string;
  retentionDays: number;
  /** Absolute path of the digest public key (PEM). */
  publicKey: string;
  /** `keyId` the sandbox's digests carry (`local:<fingerprint>`). */
  keyId: string;
}

/** The data directory tools use when none is given: `COUNTERSIGN_DATA_DIR`, else `.countersign/` under `cwd`. */
export function defaultDataDir(cwd: string, env: Record<string, string | undefined> = process.env): string {
  return resolve(cwd, env.COUNTERSIGN_DATA_DIR ?? '.countersign');
}

/** Writes `sandbox.json` (atomically: a reader never sees half a file). */
export async function writeSandboxInfo(info: SandboxInfo): Promise<string> {
  const file = join(info.dataDir, SANDBOX_INFO_FILE);
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify(info, null, 2)}\n`);
  await rename(temporary, file);
  return file;
}

/** Thrown when no usable sandbox is found; the message says what to do. */
export class SandboxNotFoundError extends Error {
  override name = 'SandboxNotFoundError';
}

/**
 * The running sandbox whose data directory is `dataDir`: reads `sandbox.json`
 * and asks the URL it names whether that sandbox is the one that wrote it.
 *
 * @throws SandboxNotFoundError when there is no file, or its sandbox no longer runs
 */
export async function findSandbox(dataDir: string, fetcher: typeof fetch = fetch): Promise<SandboxInfo> {
  let info: SandboxInfo;
  try {
    info = JSON.parse(await readFile(join(dataDir, SANDBOX_INFO_FILE), 'utf8')) as SandboxInfo;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new SandboxNotFoundError(
        `no sandbox found: ${join(dataDir, SANDBOX_INFO_FILE)} does not exist. Start one with "npm start" (or point --data-dir / COUNTERSIGN_DATA_DIR at its data directory)`,
      );
    }
    throw new SandboxNotFoundError(
      `cannot read ${join(dataDir, SANDBOX_INFO_FILE)}: ${(error as Error).message}`,
    );
  }
  if (info?.v !== 1 || typeof info.url !== 'string' || typeof info.runId !== 'string') {
    throw new SandboxNotFoundError(
      `${join(dataDir, SANDBOX_INFO_FILE)} is not a sandbox file this version writes`,
    );
  }
  const stopped = new SandboxNotFoundError(
    `the sandbox that last ran from ${dataDir} (started ${info.startedAt}, ${info.url}) is not running. Start it again with "npm start" (its data is kept; starting writes the digests that fell due meanwhile), then run this again`,
  );
  let answer: Response;
  try {
    answer = await fetcher(`${info.url}/api/sandbox`, { signal: AbortSignal.timeout(3000) });
  } catch {
    throw stopped;
  }
  const running = answer.ok
    ? ((await answer.json().catch(() => undefined)) as { runId?: string } | undefined)
    : undefined;
  if (running?.runId !== info.runId) throw stopped;
  return info;
}

/** An S3 client for the sandbox's s3rver. */
export function sandboxS3Client(info: Pick<SandboxInfo, 'endpoints'>): S3Client {
  return new S3Client({
    endpoint: info.endpoints.s3,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/** A DynamoDB document client for the sandbox's table (through its stream proxy). */
export function sandboxDocumentClient(info: Pick<SandboxInfo, 'endpoints'>): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(
    new DynamoDBClient({
      endpoint: info.endpoints.dynamodb,
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
    }),
    { marshallOptions: { removeUndefinedValues: true } },
  );
}
