/**
 * Preloaded with `node --import` (through NODE_OPTIONS) by the start-up test:
 * appends the URL of every module the process loads to the file named by
 * ZMX_T_LOAD_LOG, one a line. The ES module loader's hook sees the bundle's
 * chunks and every package it imports; what is loaded with require (native
 * addons' loaders, CommonJS packages) is in require's cache, written at exit.
 */
import { appendFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';
import { pathToFileURL } from 'node:url';

const HOOKS = `
import { appendFileSync } from 'node:fs';
export async function load(url, context, next) {
  appendFileSync(process.env.ZMX_T_LOAD_LOG, url + '\\n');
  return next(url, context);
}`;

const log = process.env['ZMX_T_LOAD_LOG'];
if (log) {
  register(`data:text/javascript,${encodeURIComponent(HOOKS)}`);
  const cache = createRequire(import.meta.url).cache;
  process.on('exit', () => {
    const required = Object.keys(cache).filter((p) => p.startsWith('/')).map((p) => pathToFileURL(p).href);
    if (required.length > 0) appendFileSync(log, `${required.join('\n')}\n`);
  });
}
