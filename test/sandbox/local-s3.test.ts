/**
 * The local S3 server lists more than one page: the audit report, `audit
 * verify --sandbox` and the Insights page list every record of the trail, and a
 * sandbox that has run for a while holds more than S3's 1,000 keys a page.
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { s3TrailSource } from '../../audit/sources.js';
import { type LocalAws, startLocalAws } from '../../sandbox/local-aws.js';

let aws: LocalAws;
beforeAll(async () => {
  aws = await startLocalAws();
});
afterAll(() => aws?.close());

describe('local S3', () => {
  it('lists every key of a prefix across pages (continuation tokens round-trip)', async () => {
    // Prepare: 2,001 records, three pages; and one key outside the prefix
    const keys = Array.from({ length: 2001 }, (_, i) => `records/2026/12/02/req-${i % 7}/${i}.json`);
    for (let i = 0; i < keys.length; i += 100) {
      await Promise.all(
        keys
          .slice(i, i + 100)
          .map((Key) => aws.s3.send(new PutObjectCommand({ Bucket: aws.bucket, Key, Body: '{}' }))),
      );
    }
    await aws.s3.send(new PutObjectCommand({ Bucket: aws.bucket, Key: 'digests/x.json', Body: '{}' }));

    // Act
    const listed = await s3TrailSource(aws.s3, aws.bucket).list('records/');

    // Assess
    expect(listed.sort()).toEqual([...keys].sort());
  });
});
