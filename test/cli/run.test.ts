/**
 * Driving a session from scripts, black-box: run (status, output, stdin
 * scripts typed unmangled), run -d + wait, send, print, write, history
 * (plain, --vt, --html) and tail. Real bin/zmx, real servers and shells.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Sandbox, parseList, until } from '../helpers/harness.js';
import { sandbox, assertOk, runLines } from '../helpers/assert.js';
import { zmxBatch } from '../helpers/cli-batch.js';
import { Connection } from '../../src/client/connection.js';
import { runtimePaths } from '../../src/common/paths.js';
import { KeyStore } from '../../src/platform/keystore.js';

/** Of the 40 runs in a row, these go through the executable; the rest run in one process (cli-batch). */
const REAL_RUNS = 3;

async function history(sb: Sandbox, name: string, ...flags: string[]): Promise<string> {
  const r = await sb.zmx(['history', name, ...flags]);
  assertOk(r, `history ${name} ${flags.join(' ')}`);
  return r.stdout;
}

function historyLines(text: string): string[] {
  return text.split('\n').map((l) => l.replace(/\s+$/, ''));
}

describe('run, send, print, write, history, tail', { concurrency: 4 }, () => {
  test('run creates the session (saying so first) and exits with the command\'s status', async (t) => {
    const sb = sandbox(t);
    const first = await sb.zmx(['run', 'st', 'true']);
    assertOk(first, 'run st true');
    assert.match(first.stdout, /^session "st" created\n/, 'the creation line comes first');
    for (const [cmd, status] of [['false', 1], ['(exit 3)', 3], ['sh -c "exit 42"', 42], ['true', 0]] as const) {
      const r = await sb.zmx(['run', 'st', cmd]);
      assert.equal(r.status, status, `run st ${cmd}: stdout=${JSON.stringify(r.stdout)} stderr=${JSON.stringify(r.stderr)}`);
      assert.doesNotMatch(r.stdout, /created/, 'the session is only created once');
    }
    // Several arguments are joined into one command line, quoted as needed.
    const multi = await sb.zmx(['run', 'st', 'sh', '-c', 'exit 7']);
    assert.equal(multi.status, 7);
    const words = await sb.zmx(['run', 'st', 'printf', '%s|\\n', 'a b', "it's", '$HOME', '']);
    assertOk(words, 'run with arguments needing quotes');
    assert.deepEqual(runLines(words.stdout), ['a b|', "it's|", '$HOME|', '|']);
    assert.deepEqual((await sb.zmx(['ls', '--short'])).stdout, 'st\n');
  });

  test('run prints the command\'s output (not its echo); the output is in history', async (t) => {
    const sb = sandbox(t);
    const r = await sb.zmx(['run', 'out', 'echo hello-$((20+22)); echo second line']);
    assertOk(r, 'run');
    assert.deepEqual(runLines(r.stdout), ['hello-42', 'second line']);
    const lines = historyLines(await history(sb, 'out'));
    assert.ok(lines.includes('hello-42'), `history has the output:\n${lines.join('\n')}`);
    assert.ok(lines.includes('second line'));
  });

  test('run prints all of its command\'s output, every time (the reply never overtakes the output)', async (t) => {
    const sb = sandbox(t);
    assertOk(await sb.zmx(['run', 'many', 'true']), 'run');
    // A few through the executable, the rest as many fresh calls (each its own
    // connection, as each process has) in one process: the race is per call, not per process start.
    const calls = Array.from({ length: 40 }, (_, i) => ['run', 'many', `echo first-${i}; echo last-${i}`]);
    const results = [];
    for (const argv of calls.slice(0, REAL_RUNS)) results.push(await sb.zmx(argv));
    results.push(...await zmxBatch(calls.slice(REAL_RUNS), sb.env));
    for (const [i, r] of results.entries()) {
      assertOk(r, `run #${i}`);
      assert.deepEqual(runLines(r.stdout), [`first-${i}`, `last-${i}`], `run #${i} printed ${JSON.stringify(r.stdout)}`);
      assert.match(r.stdout, /^ZMX_TASK_COMPLETED:[0-9a-f]{4}:0$/m, `run #${i}: the completion marker shows, as in zmx`);
    }
  });

  test('a waited-for run replies with the output it printed, so a client whose stream missed it still prints it', async (t) => {
    const sb = sandbox(t);
    assertOk(await sb.zmx(['run', 'direct', 'true']), 'run');
    // No tail stream at all: everything must come in the reply.
    const conn = (await Connection.local({ spawn: false, paths: runtimePaths(sb.dir), keys: new KeyStore(join(sb.configDir, 'keys'), 'file') }))!;
    t.after(() => conn.close());
    const { result, frames } = await conn.request('session.run', { name: 'direct', script: 'echo one-$((40+2)); (exit 3)', wait: true }, [], { timeoutMs: 0 });
    assert.equal(result.status, 3);
    const chunks = result.chunks ?? [];
    assert.ok(chunks.length > 0, 'the reply lists the output chunks');
    const body = frames[0] ?? Buffer.alloc(0);
    assert.equal(chunks.reduce((n, [, len]) => n + len, 0), body.length, 'the chunk lengths add up to the frame');
    const text = body.toString('utf8');
    assert.match(text, /one-42\r?\n/, 'the command\'s output is in the reply');
    assert.match(text, /ZMX_TASK_COMPLETED:[0-9a-f]{4}:3/, 'up to and including the marker');
    assert.equal(result.seq, chunks[chunks.length - 1]![0], 'seq names the chunk that held the marker');
    for (let i = 1; i < chunks.length; i++) assert.ok(chunks[i]![0] > chunks[i - 1]![0], 'chunks in order, each once');
  });

  test('stdin scripts: quotes, $VARS, $(cmd) and a quoted heredoc pass through unmangled', async (t) => {
    const sb = sandbox(t);
    const run = async (script: string) => {
      const r = await sb.zmx(['run', 'sh'], { input: script });
      assertOk(r, `run with stdin ${JSON.stringify(script)}`);
      return r.stdout;
    };
    await run('true\n');
    assert.deepEqual(runLines(await run(`echo 'single "double" $HOME \\n'\n`)), ['single "double" $HOME \\n']);
    assert.deepEqual(runLines(await run(`echo "double 'single' \\"esc\\""\n`)), [`double 'single' "esc"`]);
    assert.deepEqual(runLines(await run('ZVAR=expanded; echo "var=$ZVAR home=$HOME"\n')), [`var=expanded home=${sb.home}`]);
    assert.deepEqual(runLines(await run('echo "sub=$(echo inner | tr a-z A-Z) back=`echo tick`"\n')), ['sub=INNER back=tick']);
    assert.deepEqual(runLines(await run('printf "%s\\n" "a  b" \'c\\td\'\n')), ['a  b', 'c\\td']);
    // A heredoc whose delimiter is quoted keeps $HOME, $(...) and `...` literal.
    const heredoc = [
      "cat <<'EOF'",
      'literal $HOME and $(date) and `id` and "dq" and \'sq\'',
      'second $ZMX_SESSION line',
      'EOF',
      '',
    ].join('\n');
    const lines = runLines(await run(heredoc));
    // The shell echoes heredoc lines after its "> " prompt; the output lines themselves are exact.
    const output = lines.filter((l) => !l.startsWith('> '));
    assert.deepEqual(output, ['literal $HOME and $(date) and `id` and "dq" and \'sq\'', 'second $ZMX_SESSION line']);
    assert.ok(!lines.some((l) => l.includes(sb.home)), 'nothing was expanded');
    // An unquoted heredoc expands.
    const expanded = runLines(await run('cat <<EOF\nhome=$HOME sum=$((1+2))\nEOF\n')).filter((l) => !l.startsWith('> '));
    assert.deepEqual(expanded, [`home=${sb.home} sum=3`]);
    // A multi-line script runs every line, in order, and reports the last status.
    const r = await sb.zmx(['run', 'sh'], { input: 'echo one\necho two\n(exit 4)\n' });
    assert.equal(r.status, 4);
    const multi = runLines(r.stdout);
    assert.ok(multi.indexOf('one') >= 0 && multi.indexOf('two') > multi.indexOf('one'), JSON.stringify(multi));
  });

  test('stdin scripts keep tabs (no completion), comments and a trailing & intact; the output has no echo', async (t) => {
    const sb = sandbox(t);
    const file = join(sb.base, 'tabs.txt');
    const script = `cat > ${file} <<'EOF'\n\tone\ttab\n\t\ttwo tabs\nEOF\nprintf 'x\\ty\\n' # a comment\n`;
    const r = await sb.zmx(['run', 'tabs'], { input: script });
    assertOk(r, 'run with tabs');
    assert.equal(readFileSync(file, 'utf8'), '\tone\ttab\n\t\ttwo tabs\n', 'the file has its tabs');
    assert.deepEqual(runLines(r.stdout), ['x\ty'], 'only the output, none of the typed script');
    const bg = await sb.zmx(['run', 'tabs', 'sleep 0.1 &']);
    assertOk(bg, 'a trailing & still finishes');
  });

  test('run with an empty command is a one-line error and creates no session', async (t) => {
    const sb = sandbox(t);
    for (const args of [['run', 'empty', ''], ['run', 'empty', '   '], ['run', 'empty']]) {
      const r = await sb.zmx(args, { input: '' });
      assert.notEqual(r.status, 0, `zmx ${args.join(' ')}`);
      assert.match(r.stderr, /^[^\n]+\n$/, 'one line on stderr');
      assert.equal(r.stdout, '', `zmx ${JSON.stringify(args)} prints nothing on stdout (no "session created")`);
    }
    const ls = await sb.zmx(['ls', '--short']);
    assert.equal(ls.stdout, '', 'no session was created');
  });

  test('run -d prints "command sent!"; wait returns the aggregate status', async (t) => {
    const sb = sandbox(t);
    // Both placements of -d: before the name (option) and right after it (zmx style).
    const a = await sb.zmx(['run', '-d', 'w.a', 'sleep 0.5; true']);
    assertOk(a, 'run -d w.a');
    assert.equal(a.stdout, 'session "w.a" created\ncommand sent!\n');
    const b = await sb.zmx(['run', 'w.b', '-d', 'sleep 0.3; (exit 5)']);
    assertOk(b, 'run w.b -d');
    assert.equal(b.stdout, 'session "w.b" created\ncommand sent!\n');
    const c = await sb.zmx(['run', '-d', 'w.c', 'true']);
    assertOk(c, 'run -d w.c');

    const all = await sb.zmx(['wait', 'w.a', 'w.b', 'w.c']);
    assert.equal(all.status, 5, `wait: ${all.stdout}${all.stderr}`);
    assert.match(all.stdout, /completed task=w\.b exit_code=5/);
    assert.match(all.stdout, /completed task=w\.a exit_code=0/);
    assert.match(all.stdout, /task\(s\) failed!/);
    // The status of the last task shows in ls.
    const lines = parseList((await sb.zmx(['ls'])).stdout);
    assert.equal(lines.find((l) => l['name'] === 'w.b')!['exit_code'], '5');
    assert.ok(Math.abs(Number(lines.find((l) => l['name'] === 'w.b')!['ended']) - Date.now() / 1000) < 120, 'ended= is the task\'s end, in Unix seconds');
    assert.equal(lines.find((l) => l['name'] === 'w.a')!['exit_code'], '0');

    const ok = await sb.zmx(['wait', 'w.a', 'w.c']);
    assert.equal(ok.status, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /task\(s\) completed!/);

    // A prefix pattern waits for every match; a failed one makes the whole fail.
    assertOk(await sb.zmx(['run', '-d', 'w.a', 'sleep 0.3; (exit 9)']), 'run -d again');
    const pattern = await sb.zmx(['wait', 'w.*']);
    assert.notEqual(pattern.status, 0, pattern.stdout);
    assert.match(pattern.stdout, /completed task=w\.a exit_code=9/);
    assert.match(pattern.stdout, /completed task=w\.c exit_code=0/);

    const none = await sb.zmx(['wait', 'nothing']);
    assert.notEqual(none.status, 0);
    assert.match(none.stderr, /^[^\n]+\n$/, 'one line on stderr');
  });

  test('send types text into the pane; history shows it', async (t) => {
    const sb = sandbox(t);
    assertOk(await sb.zmx(['run', 'snd', 'true']), 'run');
    assertOk(await sb.zmx(['send', 'snd', 'echo sent-$((3*4))\r']), 'send (argument)');
    await until(async () => historyLines(await history(sb, 'snd')).includes('sent-12'), 'the sent command to run');
    // From stdin, one trailing newline is dropped; \r presses Enter.
    assertOk(await sb.zmx(['send', 'snd'], { input: 'echo piped-$((5*5))\r\n' }), 'send (stdin)');
    await until(async () => historyLines(await history(sb, 'snd')).includes('piped-25'), 'the piped command to run');
    const missing = await sb.zmx(['send', 'ghost', 'x']);
    assert.notEqual(missing.status, 0);
    assert.match(missing.stderr, /^[^\n]*ghost[^\n]*\n$/);
  });

  test('print shows text on the screen (history) but the shell never receives it', async (t) => {
    const sb = sandbox(t);
    assertOk(await sb.zmx(['run', 'prn', 'true']), 'run');
    const flag = join(sb.home, 'printed-reached-the-shell');
    assertOk(await sb.zmx(['print', 'prn', `\r\nPRINTED-NOTE touch ${flag}\r\n`]), 'print');
    assertOk(await sb.zmx(['print', 'prn'], { input: `touch ${flag}\r` }), 'print from stdin');
    const text = await history(sb, 'prn');
    assert.ok(historyLines(text).includes(`PRINTED-NOTE touch ${flag}`), text);
    // The shell is still at a clean prompt: a command run now sees no stray input.
    const r = await sb.zmx(['run', 'prn', 'echo clean; ls ' + flag + ' 2>&1 >/dev/null | wc -l']);
    assertOk(r, 'run after print');
    assert.deepEqual(runLines(r.stdout), ['clean', '1']);
    assert.equal(existsSync(flag), false, 'the printed command never ran');
  });

  test('write NAME PATH stores stdin byte for byte (binary-safe) and says "file created PATH"', async (t) => {
    const sb = sandbox(t);
    const data = Buffer.concat([
      Buffer.from([0x00, 0xff, 0xfe, 0x80, 0x0d, 0x0a, 0x1b, 0x03, 0x04, 0x00]),
      Buffer.from("quotes ' \" $HOME `x` \\ end\n", 'utf8'),
      randomBytes(100_000),
    ]);
    const path = join(sb.home, 'blob.bin');
    const r = await sb.zmx(['write', 'wr', path], { input: data });
    assertOk(r, 'write');
    assert.equal(r.stdout, `session "wr" created\nfile created ${path}\n`);
    assert.ok(readFileSync(path).equals(data), 'the file holds exactly the bytes given');
    // Again into the same session: replaced, no "created" line.
    const small = Buffer.from([0x00, 0x01, 0xc3]);
    const r2 = await sb.zmx(['write', 'wr', path], { input: small });
    assertOk(r2, 'write again');
    assert.equal(r2.stdout, `file created ${path}\n`);
    assert.ok(readFileSync(path).equals(small));
    // An empty stdin makes an empty file.
    const empty = join(sb.home, 'empty');
    assertOk(await sb.zmx(['write', 'wr', empty], { input: '' }), 'write empty');
    assert.equal(readFileSync(empty).length, 0);
    // A relative path is relative to the shell's directory.
    const dir = join(sb.home, 'rel');
    mkdirSync(dir);
    assertOk(await sb.zmx(['run', 'wr', `cd ${dir}`]), 'cd');
    const rel = await sb.zmx(['write', 'wr', 'note.txt'], { input: 'relative\n' });
    assertOk(rel, 'write relative');
    await until(() => existsSync(join(dir, 'note.txt')), 'the relative file');
    assert.equal(readFileSync(join(dir, 'note.txt'), 'utf8'), 'relative\n');
  });

  test('history --vt keeps colours as escapes; --html is HTML', async (t) => {
    const sb = sandbox(t);
    assertOk(await sb.zmx(['run', 'hist', "printf '\\e[31mred-word\\e[0m plain\\n'"]), 'run printf');
    const plain = await history(sb, 'hist');
    assert.ok(historyLines(plain).includes('red-word plain'), plain);
    assert.doesNotMatch(plain, /\x1b/, 'plain history has no escapes');
    const vt = await history(sb, 'hist', '--vt');
    assert.match(vt, /\x1b\[[0-9;]*31[0-9;]*mred-word/, 'the red text comes with its SGR');
    const html = await history(sb, 'hist', '--html');
    assert.match(html, /<html|<pre|<span/i);
    assert.match(html, /red-word/);
    assert.doesNotMatch(html, /\x1b/);
    const both = await sb.zmx(['history', 'hist', '--vt', '--html']);
    assert.notEqual(both.status, 0);
    const missing = await sb.zmx(['history', 'ghost']);
    assert.notEqual(missing.status, 0);
    assert.match(missing.stderr, /^[^\n]*ghost[^\n]*\n$/);
  });

  test('tail NAME receives output produced after it started', async (t) => {
    const sb = sandbox(t);
    assertOk(await sb.zmx(['run', 'tl', 'echo before-tail']), 'run');
    const tail = sb.start(['tail', 'tl']);
    let out = '';
    tail.stdout!.on('data', (d: Buffer) => { out += d.toString('utf8'); });
    let exited = false;
    tail.on('exit', () => { exited = true; });
    // The tail counts as a client once it follows the session.
    await until(async () => parseList((await sb.zmx(['ls'])).stdout)[0]?.['clients'] === '1', 'tail to attach');
    assertOk(await sb.zmx(['send', 'tl', "printf '\\e[32mtailed-%s\\e[0m\\n' $((6*7))\r"]), 'send');
    await until(() => out.replace(/\r/g, '').split('\n').includes('tailed-42'), 'tail to print the new output (escapes stripped)');
    assert.ok(!out.includes('before-tail'), 'old output is not replayed');
    assert.ok(!out.includes('\x1b'), 'escapes are stripped');
    // The tail ends when the session does.
    assertOk(await sb.zmx(['kill', 'tl']), 'kill');
    await until(() => exited, 'tail to exit with the session');
    assert.equal(tail.exitCode, 0);
  });
});
