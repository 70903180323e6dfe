/**
 * zmx mcp's resources, black-box: the SDK's own Client on `bin/zmx mcp`
 * lists a real session's panes, reads a pane that is not the active one,
 * follows one that prints (resources/subscribe, notifications of updates)
 * and hears it end — all against a real server, real ptys.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ResourceListChangedNotificationSchema, ResourceUpdatedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { Sandbox, until } from '../helpers/harness.js';
import { assertOk } from '../helpers/assert.js';
import { call, closeMcp, sandboxMcp, type McpSession } from '../helpers/mcp.js';

interface PaneJson { id: number }
interface SessionJson { name: string; panes: PaneJson[]; windows: { index: number; active: number }[] }

describe('zmx mcp resources', () => {
  let sb: Sandbox;
  let mcp: McpSession;
  /** The session's first pane (a shell) and the one split off it (a program that prints when told). */
  let shell: number;
  let ticker: number;

  const paneText = async (uri: string) => ((await mcp.client.readResource({ uri })).contents[0] as { text: string }).text;

  before(async () => {
    sb = new Sandbox();
    assertOk(await sb.zmx(['new', '-d', '-s', 'watch']), 'new');
    sb.notePids();
    // Prints a line for each line it reads: the test makes it print by typing into it.
    assertOk(await sb.zmx(['split', '-t', 'watch', '--', 'sh', '-c', 'while read line; do echo "got-$line"; done']), 'split');
    const info = JSON.parse((await sb.zmx(['ls', '--json'])).stdout) as SessionJson[];
    [shell, ticker] = info[0]!.panes.map((p) => p.id) as [number, number];
    mcp = await sandboxMcp(sb, ['-t', 'watch']);
  });

  after(async () => {
    if (mcp) await closeMcp(mcp);
    await sb.cleanup();
  });

  test('resources/list has a screen and a history for each pane, addressed by pane id', async () => {
    const { resources } = await mcp.client.listResources();
    assert.deepEqual(resources.map((r) => [r.uri, r.name]), [
      [`zmx://watch/${shell}/screen`, 'watch:0.0 screen'], [`zmx://watch/${shell}/history`, 'watch:0.0 history'],
      [`zmx://watch/${ticker}/screen`, 'watch:0.1 screen'], [`zmx://watch/${ticker}/history`, 'watch:0.1 history'],
    ]);
  });

  test('a pane that is not the active one is read, screen and history', async () => {
    // The split pane is active: type into it, then make the shell active again.
    await call(mcp.client, 'terminal_send', { text: 'one', enter: true });
    await until(async () => (await paneText(`zmx://watch/${ticker}/screen`)).includes('got-one'), 'the program to answer');
    assertOk(await sb.zmx(['select-pane', '-t', 'watch:0.0']), 'select-pane');
    assert.match(await paneText(`zmx://watch/${ticker}/screen`), /^one\ngot-one\n$/m);
    assert.match(await paneText(`zmx://watch/${ticker}/history`), /got-one\n$/);
    assert.doesNotMatch(await paneText(`zmx://watch/${shell}/screen`), /got-one/, 'the other pane shows its own screen');
  });

  test('a subscribed pane sends updates when it prints, and a last one when it ends', async () => {
    const updates: string[] = [];
    let listChanged = 0;
    mcp.client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => { updates.push(n.params.uri); });
    mcp.client.setNotificationHandler(ResourceListChangedNotificationSchema, () => { listChanged++; });
    const uri = `zmx://watch/${ticker}/screen`;
    await mcp.client.subscribeResource({ uri });
    assertOk(await sb.zmx(['select-pane', '-t', 'watch:0.1']), 'select-pane');
    await call(mcp.client, 'terminal_send', { text: 'two', enter: true });
    await until(() => updates.includes(uri), 'an update of the pane');
    await until(async () => (await paneText(uri)).includes('got-two'), 'the read after the update to show the output');
    const before = updates.length;
    assertOk(await sb.zmx(['kill-pane', '-t', 'watch:0.1']), 'kill-pane');
    await until(() => updates.length > before && listChanged > 0, 'a last update and list_changed');
    await assert.rejects(mcp.client.readResource({ uri }), (e: { code: number; message: string }) => e.code === -32002 && /ENOENT/.test(e.message));
    const { resources } = await mcp.client.listResources();
    assert.deepEqual(resources.map((r) => r.uri), [`zmx://watch/${shell}/screen`, `zmx://watch/${shell}/history`]);
  });
});
