#!/usr/bin/env node
// Writes man/zmx.1 from the command table (run after `npx tsc -b`), so the
// man page and the commands cannot drift; a test compares the two.
import { writeFileSync } from 'node:fs';
import { manPage } from '../dist/src/cli/help.js';
import { COMMANDS } from '../dist/src/cli/table.js';

writeFileSync(new URL('../man/zmx.1', import.meta.url), manPage(COMMANDS));
console.log('wrote man/zmx.1');
