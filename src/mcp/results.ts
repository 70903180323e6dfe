/**
 * What a tool answers: text, or a failure as `CODE: message` (the portal's
 * error code, so an agent can tell EOUTSIDE from ENOENT). A tool never
 * throws.
 */
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { CallToolResult, ServerNotification, ServerRequest } from '@modelcontextprotocol/sdk/types.js';
import { toZmxError } from '../common/errors.js';

/** What a tool handler gets besides its arguments: the abort signal, the request's _meta, a way to notify. */
export type ToolExtra = RequestHandlerExtra<ServerRequest, ServerNotification>;

export function textResult(text: string): CallToolResult {
  return { content: [{ type: 'text', text }] };
}

/** A tool's failure as the agent sees it: `CODE: message`. */
export function errorResult(err: unknown): CallToolResult {
  const e = toZmxError(err);
  return { isError: true, content: [{ type: 'text', text: `${e.code}: ${e.message}` }] };
}

/** A handler that answers every failure as a tool error instead of throwing. */
export function guarded<A>(fn: (args: A, extra: ToolExtra) => Promise<CallToolResult>): (args: A, extra: ToolExtra) => Promise<CallToolResult> {
  return async (args, extra) => {
    try {
      return await fn(args, extra);
    } catch (err) {
      return errorResult(err);
    }
  };
}
