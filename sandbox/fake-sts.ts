/**
 * A wire-compatible fake of AWS STS (AWS Query protocol, XML answers) for the
 * sandbox and tests: `AssumeRole` and `GetCallerIdentity`. It refuses what STS
 * refuses for the calls Countersign makes (a duration outside 900 s .. the
 * role's maximum, a session policy over 2,048 characters, a malformed
 * `SourceIdentity`, a caller the role does not trust) and keeps every session
 * it issued, with its session policy, source identity and tags, so tests can
 * read what a set of credentials carries.
 *
 * It also serves IAM's `AttachRolePolicy` and `DetachRolePolicy` (the same
 * protocol) as the place minted credentials are used: each call is judged by
 * {@link FakeSts.call} and its CloudTrail event handed to `onCloudTrail`.
 *
 * It also stands in for the services those credentials are used on:
 * {@link FakeSts.call} evaluates a call made with a key against the session
 * policy (the subset Countersign writes: exact actions, exact resources,
 * `StringEquals` / `ArnEquals` / `DateLessThan`) and returns the CloudTrail
 * management event AWS would record for it, ready to be put on the default bus.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A session the fake issued. */
export interface FakeSession {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  roleArn: string;
  roleSessionName: string;
  /** `arn:aws:sts::<account>:assumed-role/<role>/<session>` */
  assumedRoleArn: string;
  /** The inline session policy, parsed (undefined when none was passed). */
  policy?: SessionPolicy;
  sourceIdentity?: string;
  tags: Record<string, string>;
  durationSeconds: number;
  expiration: Date;
  /** Access key id of the caller that assumed the role. */
  callerAccessKeyId?: string;
}

/** The session policy subset the fake evaluates. */
export interface SessionPolicy {
  Statement: {
    Effect: string;
    Action: string | string[];
    Resource: string | string[];
    Condition?: Record<string, Record<string, string>>;
  }[];
}

/** One AssumeRole call and how it ended. */
export interface AssumeRoleCall {
  params: Record<string, string>;
  result: 'ok' | string;
}

/** What a call made with minted credentials looked like, and what the fake made of it. */
export interface FakeServiceCall {
  /** IAM action, e.g. `iam:AttachRolePolicy`. */
  action: string;
  /** The ARN the call acts on. */
  resource: string;
  /** CloudTrail's `eventSource` (e.g. `iam.amazonaws.com`). */
  eventSource: string;
  /** Request parameters as CloudTrail records them. */
  requestParameters: Record<string, string>;
  /** Condition key values of the request (e.g. `iam:PolicyARN`). */
  context?: Record<string, string>;
  /** When the call is made. @default now */
  at?: Date;
}

/** Options of {@link startFakeSts}. */
export interface FakeStsOptions {
  /** Account of the issued ARNs. @default '123456789012' */
  account?: string;
  /**
   * Who may assume each role: role ARN → caller access key ids. A role not
   * listed may be assumed by anyone (the sandbox does not evaluate IAM).
   */
  trust?: Record<string, string[]>;
  /** Every role's `MaxSessionDuration`. @default 3600 */
  maxSessionSeconds?: number;
  /** Receives the CloudTrail event of every IAM call the fake serves (the sandbox puts it on the default bus). */
  onCloudTrail?: (event: CloudTrailEvent) => void;
  /** The principal behind a long-term access key (one the fake did not mint), for CloudTrail. */
  principalOf?: (accessKeyId: string) => string | undefined;
}

/** A running fake STS. */
export interface FakeSts {
  url: string;
  /** Sessions by access key id. */
  sessions: Map<string, FakeSession>;
  /** Every AssumeRole call. */
  calls: AssumeRoleCall[];
  /** `AWS_ENDPOINT_URL_STS` and `AWS_ENDPOINT_URL_IAM` (both served here). */
  env(): Record<string, string>;
  /**
   * A service call with a key: allowed or denied by the session's policy,
   * and the CloudTrail event AWS would record (also for a denied call, with
   * `errorCode: AccessDenied`). Keys the fake did not mint act as the long-term
   * identity `principalArn`.
   */
  call(
    accessKeyId: string,
    call: FakeServiceCall,
    principalArn?: string,
  ): { allowed: boolean; reason: string; event: CloudTrailEvent };
  close(): Promise<void>;
}

/** A CloudTrail management event as EventBridge delivers it in `detail` ("AWS API Call via CloudTrail"). */
export interface CloudTrailEvent {
  eventVersion: string;
  eventID: string;
  eventTime: string;
  eventSource: string;
  eventName: string;
  awsRegion: string;
  eventType: 'AwsApiCall';
  recipientAccountId: string;
  userIdentity: {
    type: string;
    arn: string;
    accountId: string;
    accessKeyId?: string;
    principalId?: string;
    sessionContext?: {
      sourceIdentity?: string;
      sessionIssuer?: { type: 'Role'; arn: string; accountId: string; userName: string };
      attributes?: { creationDate: string; mfaAuthenticated: 'false' | 'true' };
    };
  };
  requestParameters: Record<string, unknown>;
  errorCode?: string;
  errorMessage?: string;
}

const SOURCE_IDENTITY = /^[\w+=,.@-]{2,64}$/;
const NS = 'https://sts.amazonaws.com/doc/2011-06-15/';
const IAM_NS = 'https://iam.amazonaws.com/doc/2010-05-08/';

const esc = (text: string) =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function xmlError(res: ServerResponse, status: number, code: string, message: string): void {
  res.writeHead(status, { 'content-type': 'text/xml', 'x-amzn-requestid': randomUUID() });
  res.end(
    `<ErrorResponse xmlns="${NS}"><Error><Type>Sender</Type><Code>${code}</Code><Message>${esc(message)}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`,
  );
}

function xmlResult(res: ServerResponse, action: string, inner: string): void {
  res.writeHead(200, { 'content-type': 'text/xml', 'x-amzn-requestid': randomUUID() });
  res.end(
    `<${action}Response xmlns="${NS}"><${action}Result>${inner}</${action}Result><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></${action}Response>`,
  );
}

/** The access key id of a SigV4 `Authorization` header, if any. */
export function signingKeyOf(req: IncomingMessage): string | undefined {
  const auth = req.headers.authorization;
  const m = typeof auth === 'string' ? /Credential=([^/,\s]+)\//.exec(auth) : null;
  return m?.[1];
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const list = (v: string | string[]) => (Array.isArray(v) ? v : [v]);

/** Evaluates the session policy subset Countersign writes. */
export function evaluateSessionPolicy(
  policy: SessionPolicy | undefined,
  call: Pick<FakeServiceCall, 'action' | 'resource' | 'context'>,
  at: Date,
): { allowed: boolean; reason: string } {
  if (!policy) return { allowed: true, reason: 'no session policy (the role policy alone decides)' };
  for (const statement of policy.Statement) {
    if (statement.Effect !== 'Allow') continue;
    if (!list(statement.Action).includes(call.action)) continue;
    if (!list(statement.Resource).includes(call.resource)) continue;
    const failed = Object.entries(statement.Condition ?? {}).flatMap(([operator, keys]) =>
      Object.entries(keys).filter(([key, expected]) => {
        if (operator === 'DateLessThan' && key === 'aws:CurrentTime') return !(at < new Date(expected));
        if (operator === 'StringEquals' || operator === 'ArnEquals') return call.context?.[key] !== expected;
        return true; // an operator the fake does not know never matches (fail closed)
      }),
    );
    if (failed.length === 0) return { allowed: true, reason: 'allowed by the session policy' };
  }
  return { allowed: false, reason: `no session policy statement allows ${call.action} on ${call.resource}` };
}

/** Starts the fake STS on 127.0.0.1 (random port). */
export async function startFakeSts(options: FakeStsOptions = {}): Promise<FakeSts> {
  const account = options.account ?? '123456789012';
  const maxSession = options.maxSessionSeconds ?? 3600;
  const sessions = new Map<string, FakeSession>();
  const calls: AssumeRoleCall[] = [];

  function assumeRole(req: IncomingMessage, params: Record<string, string>, res: ServerResponse): undefined {
    const call: AssumeRoleCall = { params, result: 'ok' };
    calls.push(call);
    const fail = (status: number, code: string, message: string): undefined => {
      call.result = code;
      xmlError(res, status, code, message);
    };
    const roleArn = params.RoleArn ?? '';
    const m = /^arn:aws:iam::(\d{12}):role\/(?:.*\/)?([\w+=,.@-]+)$/.exec(roleArn);
    if (!m) return fail(400, 'ValidationError', `Invalid RoleArn ${roleArn}`);
    const sessionName = params.RoleSessionName ?? '';
    if (!/^[\w+=,.@-]{2,64}$/.test(sessionName))
      return fail(400, 'ValidationError', 'Invalid RoleSessionName');
    const caller = signingKeyOf(req);
    const trusted = options.trust?.[roleArn];
    if (trusted && !(caller && trusted.includes(caller))) {
      return fail(
        403,
        'AccessDenied',
        `User ${caller ?? '(anonymous)'} is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`,
      );
    }
    const duration = Number(params.DurationSeconds ?? 3600);
    if (!Number.isInteger(duration) || duration < 900 || duration > maxSession) {
      return fail(
        400,
        'ValidationError',
        `The requested DurationSeconds exceeds the MaxSessionDuration set for this role or is below 900.`,
      );
    }
    let policy: SessionPolicy | undefined;
    if (params.Policy !== undefined) {
      if (params.Policy.length > 2048) {
        return fail(
          400,
          'ValidationError',
          "1 validation error detected: Value at 'policy' failed to satisfy constraint: Member must have length less than or equal to 2048",
        );
      }
      try {
        policy = JSON.parse(params.Policy) as SessionPolicy;
      } catch {
        return fail(400, 'MalformedPolicyDocument', 'The policy is not in the valid JSON format.');
      }
    }
    const sourceIdentity = params.SourceIdentity;
    if (sourceIdentity !== undefined && !SOURCE_IDENTITY.test(sourceIdentity)) {
      return fail(400, 'ValidationError', 'Invalid SourceIdentity');
    }
    const callerSession = caller ? sessions.get(caller) : undefined;
    if (
      callerSession?.sourceIdentity &&
      sourceIdentity !== undefined &&
      sourceIdentity !== callerSession.sourceIdentity
    ) {
      // Role chaining keeps the source identity: STS refuses to change it.
      return fail(403, 'AccessDenied', 'SourceIdentity cannot be changed in a role chain');
    }
    const tags: Record<string, string> = {};
    for (let i = 1; params[`Tags.member.${i}.Key`] !== undefined; i++) {
      tags[params[`Tags.member.${i}.Key`]!] = params[`Tags.member.${i}.Value`] ?? '';
    }
    const session: FakeSession = {
      accessKeyId: `ASIA${randomBytes(8).toString('hex').toUpperCase()}`,
      secretAccessKey: randomBytes(30).toString('base64'),
      sessionToken: randomBytes(60).toString('base64'),
      roleArn,
      roleSessionName: sessionName,
      assumedRoleArn: `arn:aws:sts::${m[1]}:assumed-role/${m[2]}/${sessionName}`,
      ...(policy ? { policy } : {}),
      sourceIdentity: sourceIdentity ?? callerSession?.sourceIdentity,
      tags,
      durationSeconds: duration,
      expiration: new Date(Date.now() + duration * 1000),
      ...(caller ? { callerAccessKeyId: caller } : {}),
    };
    sessions.set(session.accessKeyId, session);
    xmlResult(
      res,
      'AssumeRole',
      `<Credentials><AccessKeyId>${session.accessKeyId}</AccessKeyId><SecretAccessKey>${esc(session.secretAccessKey)}</SecretAccessKey><SessionToken>${esc(session.sessionToken)}</SessionToken><Expiration>${session.expiration.toISOString()}</Expiration></Credentials>` +
        `<AssumedRoleUser><Arn>${esc(session.assumedRoleArn)}</Arn><AssumedRoleId>AROAFAKE:${esc(sessionName)}</AssumedRoleId></AssumedRoleUser>` +
        `<PackedPolicySize>${policy ? Math.ceil((params.Policy!.length / 2048) * 100) : 0}</PackedPolicySize>` +
        (session.sourceIdentity ? `<SourceIdentity>${esc(session.sourceIdentity)}</SourceIdentity>` : ''),
    );
  }

  const server = createServer((req, res) => {
    void (async () => {
      const params = Object.fromEntries(new URLSearchParams(await readBody(req)));
      if (params.Action === 'AssumeRole') return assumeRole(req, params, res);
      if (params.Action === 'AttachRolePolicy' || params.Action === 'DetachRolePolicy') {
        const key = signingKeyOf(req) ?? 'anonymous';
        const roleName = params.RoleName ?? '';
        const policyArn = params.PolicyArn ?? '';
        const result = call(
          key,
          {
            action: `iam:${params.Action}`,
            resource: `arn:aws:iam::${account}:role/${roleName}`,
            eventSource: 'iam.amazonaws.com',
            requestParameters: { roleName, policyArn },
            context: { 'iam:PolicyARN': policyArn },
          },
          sessions.has(key) ? undefined : options.principalOf?.(key),
        );
        options.onCloudTrail?.(result.event);
        if (!result.allowed) {
          res.writeHead(403, { 'content-type': 'text/xml', 'x-amzn-requestid': randomUUID() });
          res.end(
            `<ErrorResponse xmlns="${IAM_NS}"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>${esc(result.event.errorMessage ?? 'denied')}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`,
          );
          return;
        }
        res.writeHead(200, { 'content-type': 'text/xml', 'x-amzn-requestid': randomUUID() });
        res.end(
          `<${params.Action}Response xmlns="${IAM_NS}"><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></${params.Action}Response>`,
        );
        return;
      }
      if (params.Action === 'GetCallerIdentity') {
        const key = signingKeyOf(req);
        const session = key ? sessions.get(key) : undefined;
        return xmlResult(
          res,
          'GetCallerIdentity',
          `<Arn>${esc(session?.assumedRoleArn ?? `arn:aws:iam::${account}:user/${key ?? 'anonymous'}`)}</Arn><UserId>${esc(key ?? 'anonymous')}</UserId><Account>${account}</Account>`,
        );
      }
      xmlError(res, 400, 'InvalidAction', `Could not find operation ${params.Action ?? '(none)'}`);
    })().catch((error: unknown) => xmlError(res, 500, 'InternalFailure', String(error)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  function call(accessKeyId: string, request: FakeServiceCall, principalArn?: string) {
    const at = request.at ?? new Date();
    const session = sessions.get(accessKeyId);
    const verdict = session
      ? at >= session.expiration
        ? { allowed: false, reason: 'the session has expired' }
        : evaluateSessionPolicy(session.policy, request, at)
      : { allowed: true, reason: 'long-term credentials (the sandbox does not evaluate IAM)' };
    const roleMatch = session ? /^arn:aws:iam::(\d{12}):role\/(?:.*\/)?(.+)$/.exec(session.roleArn) : null;
    const event: CloudTrailEvent = {
      eventVersion: '1.09',
      eventID: randomUUID(),
      eventTime: `${at.toISOString().slice(0, 19)}Z`,
      eventSource: request.eventSource,
      eventName: request.action.split(':')[1]!,
      awsRegion: 'us-east-1',
      eventType: 'AwsApiCall',
      recipientAccountId: account,
      userIdentity: session
        ? {
            type: 'AssumedRole',
            arn: session.assumedRoleArn,
            accountId: account,
            accessKeyId,
            principalId: `AROAFAKE:${session.roleSessionName}`,
            sessionContext: {
              ...(session.sourceIdentity ? { sourceIdentity: session.sourceIdentity } : {}),
              sessionIssuer: {
                type: 'Role',
                arn: session.roleArn,
                accountId: account,
                userName: roleMatch?.[2] ?? '',
              },
              attributes: {
                creationDate: new Date(
                  session.expiration.getTime() - session.durationSeconds * 1000,
                ).toISOString(),
                mfaAuthenticated: 'false',
              },
            },
          }
        : principalIdentity(
            principalArn ?? `arn:aws:iam::${account}:user/${accessKeyId}`,
            account,
            accessKeyId,
          ),
      requestParameters: request.requestParameters,
      ...(verdict.allowed
        ? {}
        : {
            errorCode: 'AccessDenied',
            errorMessage: `not authorized to perform: ${request.action} on resource: ${request.resource}`,
          }),
    };
    return { ...verdict, event };
  }

  return {
    url,
    sessions,
    calls,
    env: () => ({ AWS_ENDPOINT_URL_STS: url, AWS_ENDPOINT_URL_IAM: url }),
    call,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** CloudTrail's `userIdentity` of a long-term principal or of a role session ARN. */
function principalIdentity(
  arn: string,
  account: string,
  accessKeyId: string,
): CloudTrailEvent['userIdentity'] {
  const assumed = /^arn:aws:sts::(\d{12}):assumed-role\/([^/]+)\/(.+)$/.exec(arn);
  if (assumed) {
    return {
      type: 'AssumedRole',
      arn,
      accountId: assumed[1]!,
      accessKeyId,
      sessionContext: {
        sessionIssuer: {
          type: 'Role',
          arn: `arn:aws:iam::${assumed[1]}:role/${assumed[2]}`,
          accountId: assumed[1]!,
          userName: assumed[2]!,
        },
      },
    };
  }
  return { type: 'IAMUser', arn, accountId: account, accessKeyId };
}
