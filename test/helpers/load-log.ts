/**
 * Preloaded with `node --import` (through NODE_OPTIONS) by the start-up test:
 * appends the URL of every module the ES module loader loads to the file
 * named by ZMX_T_LOAD_LOG, one a line. The bundle's chunks and every external
 * package it imports pass through that loader.
 */
import { register } from 'node:module';

const HOOKS = `
import { appendFileSync } from 'node:fs';
export async function load(url, context, next) {
  appendFileSync(process.env.ZMX_T_LOAD_LOG, url + '\\n');
  return next(url, context);
}`;

if (process.env['ZMX_T_LOAD_LOG']) register(`data:text/javascript,${encodeURIComponent(HOOKS)}`);
