#!/usr/bin/env -S npx tsx
/** The `countersign` command; everything lives in cli/main.ts. */
import { main } from '../cli/main.js';

process.exitCode = await main(process.argv.slice(2));
