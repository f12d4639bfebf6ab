/** Local AWS for tests: the sandbox's dynalite + s3rver harness (see sandbox/local-aws.ts). */
export * from '../../sandbox/local-aws.js';
