/**
 * Canonical JSON and the hashes every approval and audit record is bound to:
 * RFC 8785 form (anyone can recompute it), SHA-256 in hex and base64, the
 * `sha256:` intent hash, and the approved hash over modified parameters.
 */
import { describe, expect, it } from 'vitest';
import {
  approvedIntentHash,
  canonicalJson,
  intentHash,
  sha256Base64,
  sha256Hex,
} from '../../lambdas/shared/canonical.js';
import { makeIntent } from '../support/fixtures.js';

describe('canonicalJson', () => {
  it('sorts keys and drops whitespace (RFC 8785)', () => {
    expect(canonicalJson({ b: [1, { d: true, c: null }], a: 'x' })).toBe(
      '{"a":"x","b":[1,{"c":null,"d":true}]}',
    );
  });

  it('refuses a value with no JSON form', () => {
    expect(() => canonicalJson(undefined)).toThrow(new TypeError('value has no canonical JSON form'));
  });
});

describe('SHA-256', () => {
  it('in lower-case hex and in base64 (the FIPS 180-2 "abc" vector)', () => {
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(sha256Hex(new TextEncoder().encode('abc'))).toBe(sha256Hex('abc'));
    expect(sha256Base64('abc')).toBe('ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=');
  });
});

describe('intentHash and approvedIntentHash', () => {
  it('hashes the canonical form, whatever the key order, prefixed sha256:', () => {
    // Act
    const hash = intentHash({ b: 1, a: 2 });

    // Assess
    expect(hash).toBe(`sha256:${sha256Hex('{"a":2,"b":1}')}`);
    expect(intentHash({ a: 2, b: 1 })).toBe(hash);
  });

  it('binds an approval to the approved parameters when an approver modified them', () => {
    // Prepare
    const intent = makeIntent({ parameters: { bucket: 'a' } });

    // Act
    const unmodified = approvedIntentHash(intent);
    const modified = approvedIntentHash(intent, { bucket: 'b' });

    // Assess
    expect(unmodified).toBe(intentHash(intent));
    expect(modified).toBe(intentHash({ ...intent, parameters: { bucket: 'b' } }));
    expect(modified).not.toBe(unmodified);
  });
});
