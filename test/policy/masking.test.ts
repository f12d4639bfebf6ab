/** Masking: configured paths and anything that looks like a secret, never mutating the input. */
import { describe, expect, it } from 'vitest';
import { MASK, maskParameters, maskText } from '../../lambdas/shared/masking.js';

describe('maskText', () => {
  it.each([
    ['AWS access key id', 'key AKIAIOSFODNN7EXAMPLE here', `key ${MASK} here`],
    ['AWS temporary key id', 'ASIAY34FZKBOKMUTVV7A', MASK],
    [
      'AWS secret key by context',
      'aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
      `aws_secret_access_key = ${MASK}`,
    ],
    [
      'PEM private key',
      'before\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\nabc\n-----END RSA PRIVATE KEY-----\nafter',
      `before\n${MASK}\nafter`,
    ],
    ['bearer token', 'Authorization: Bearer eyJhbGciOi.abc.def123', `Authorization: Bearer ${MASK}`],
    ['basic credentials', 'Basic dXNlcjpwYXNzd29yZA==', `Basic ${MASK}`],
    ['Slack bot token', 'xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOp', MASK],
    ['Slack user token', 'token xoxp-1234-5678-abcdefgh', `token ${MASK}`],
    ['GitHub token', 'ghp_abcdefghijklmnopqrstuvwxyz0123456789', MASK],
    ['GitHub fine-grained token', 'github_pat_11ABCDEFG0123456789_abcdefghijklmnop', MASK],
    ['Stripe live key', 'sk_live_51HxYzAbCdEfGhIjKl', MASK],
    ['JWT', 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N', MASK],
    [
      'password inside a URL',
      'postgres://app:hunter2@db.internal:5432/orders',
      `postgres://app:${MASK}@db.internal:5432/orders`,
    ],
    [
      'password inside an https URL',
      'https://deploy:t0ps3cret@git.example.com/repo.git',
      `https://deploy:${MASK}@git.example.com/repo.git`,
    ],
    [
      'password pair in a connection string',
      'Server=db;User Id=app;Password=hunter2;Encrypt=true',
      `Server=db;User Id=app;Password=${MASK};Encrypt=true`,
    ],
    [
      'AWS secret key in STS JSON output',
      '"SecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"',
      `"SecretAccessKey": "${MASK}"`,
    ],
    [
      'AWS secret key in a camelCase config',
      "awsSecretAccessKey:'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'",
      `awsSecretAccessKey:'${MASK}'`,
    ],
    [
      'AWS secret key in an environment line',
      'AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
      `AWS_SECRET_ACCESS_KEY=${MASK}`,
    ],
    [
      'PEM private key cut off before its END line',
      'key: -----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC',
      `key: ${MASK}`,
    ],
    ['bearer token after several spaces', 'Bearer   abcdefgh12345678', `Bearer ${MASK}`],
    ['Slack app-level token', 'xapp-1-A0123456789-1234567890123-abcdef0123', MASK],
    ['npm token', 'npm_abcdefghijklmnopqrstuvwxyz0123456789', MASK],
    ['Google API key', 'key=AIzaSyA1234567890abcdefghijklmnopqrstuv', `key=${MASK}`],
    [
      'quoted password pairs, spaces and all',
      `Password="p@ss word";Pwd='two words';user=app`,
      `Password=${MASK};Pwd=${MASK};user=app`,
    ],
    [
      'a URL without a password is left alone',
      'https://user@example.com/path',
      'https://user@example.com/path',
    ],
    [
      'an ARN is left alone',
      'arn:aws:iam::aws:policy/AdministratorAccess',
      'arn:aws:iam::aws:policy/AdministratorAccess',
    ],
    [
      'plain text is left alone',
      'rotate the key for the billing service',
      'rotate the key for the billing service',
    ],
  ])('%s', (_name, input, expected) => {
    expect(maskText(input)).toBe(expected);
  });

  it('shows a masked secret as **** so the reviewer sees something was hidden, not that nothing was there', () => {
    expect(MASK).toBe('****');
    expect(maskText('AKIAIOSFODNN7EXAMPLE')).toBe('****');
  });
});

describe('maskParameters', () => {
  it.each<[string, Record<string, unknown>, string[], Record<string, unknown>]>([
    [
      'configured top-level path',
      { connectionString: 'db.internal', rowLimit: 10 },
      ['connectionString'],
      { connectionString: MASK, rowLimit: 10 },
    ],
    ['a leading "parameters." is accepted', { query: 'select 1' }, ['parameters.query'], { query: MASK }],
    ['nested path', { db: { host: 'h', dsn: 'x' } }, ['db.dsn'], { db: { host: 'h', dsn: MASK } }],
    [
      'wildcard segment',
      { a: { token2: 'x', n: 1 }, b: { token2: 'y' } },
      ['*.token2'],
      { a: { token2: MASK, n: 1 }, b: { token2: MASK } },
    ],
    [
      'path across an array',
      {
        users: [
          { name: 'a', pin: '1' },
          { name: 'b', pin: '2' },
        ],
      },
      ['users.pin'],
      {
        users: [
          { name: 'a', pin: MASK },
          { name: 'b', pin: MASK },
        ],
      },
    ],
    ['whole objects are masked', { creds: { user: 'u', pass: 'p' } }, ['creds'], { creds: MASK }],
    ['a missing path changes nothing', { a: 1 }, ['b.c'], { a: 1 }],
    [
      'secret-sounding keys anywhere',
      { nested: { password: 'x', apiKey: 'y', clientSecret: 'z', authToken: 'w' } },
      [],
      { nested: { password: MASK, apiKey: MASK, clientSecret: MASK, authToken: MASK } },
    ],
    [
      'references to secrets stay visible',
      { secretId: 'prod/db', tokenArn: 'arn:x', passwordPolicyName: 'strict' },
      [],
      { secretId: 'prod/db', tokenArn: 'arn:x', passwordPolicyName: 'strict' },
    ],
    [
      'secret values in arrays and unknown keys',
      { args: ['--key', 'AKIAIOSFODNN7EXAMPLE'], note: 'use xoxb-1234-5678-abcdefgh' },
      [],
      { args: ['--key', MASK], note: `use ${MASK}` },
    ],
    [
      'every spelling of a secret key',
      {
        passwd: 'a',
        pwd: 'b',
        'api-key': 'c',
        api_key: 'd',
        privateKey: 'e',
        private_key: 'f',
        sidecarToken: 'g',
      },
      [],
      {
        passwd: MASK,
        pwd: MASK,
        'api-key': MASK,
        api_key: MASK,
        privateKey: MASK,
        private_key: MASK,
        sidecarToken: MASK,
      },
    ],
    [
      'keys that only contain pwd are not passwords (OLDPWD is a directory, pwdx a tool)',
      { OLDPWD: '/home/app', pwdx: '4242' },
      [],
      { OLDPWD: '/home/app', pwdx: '4242' },
    ],
    [
      'an empty or absent secret stays visible as empty (setting an empty password is worth seeing)',
      { password: '', token: null, apiKey: undefined },
      [],
      { password: '', token: null, apiKey: undefined },
    ],
    [
      'a wildcard segment masks every key at that level',
      { a: { host: 'x', n: 1 }, b: { host: 'y' } },
      ['*.host'],
      { a: { host: MASK, n: 1 }, b: { host: MASK } },
    ],
    [
      'a path through a string or null leaves the value as it is',
      { dsn: 'postgres', db: null },
      ['dsn.user', 'db.user'],
      { dsn: 'postgres', db: null },
    ],
    [
      'a parameter itself named "parameters" is masked under its own name',
      { parameters: { query: 'q' }, query: 'select 1' },
      ['parameters.query'],
      { parameters: { query: MASK }, query: 'select 1' },
    ],
    [
      'doubled or trailing dots in a configured path are ignored',
      { db: { dsn: 'x', host: 'h' }, query: 'q' },
      ['db..dsn', 'query.'],
      { db: { dsn: MASK, host: 'h' }, query: MASK },
    ],
    ['an empty configured path masks nothing', { query: 'q' }, ['', '.'], { query: 'q' }],
    [
      'numbers, booleans and null pass through',
      { rowLimit: 5, dryRun: true, x: null },
      [],
      { rowLimit: 5, dryRun: true, x: null },
    ],
  ])('%s', (_name, parameters, paths, expected) => {
    expect(maskParameters(parameters, paths)).toEqual(expected);
  });

  it('never mutates its input', () => {
    const parameters = { password: 'hunter2', db: { url: 'mysql://a:b@h/d' }, list: [{ token: 't' }] };
    const copy = structuredClone(parameters);
    const masked = maskParameters(parameters, ['db']);
    expect(parameters).toEqual(copy);
    expect(masked).toEqual({ password: MASK, db: MASK, list: [{ token: MASK }] });
  });
});
