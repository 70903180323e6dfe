/**
 * What a workspace test compares: a directory tree (every path, type, mode
 * and content hash) and the state of a git repository that zmx must leave
 * alone (HEAD, branch, index file, staged diff, status, refs).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';

/**
 * git with a test identity and without optional locks, so that reading the
 * state (git status) never rewrites the index it is about to compare.
 */
export function git(dir: string, ...args: string[]): string {
  return execFileSync('git', ['-C', dir, '-c', 'user.name=Test', '-c', 'user.email=test@example.com', ...args], {
    encoding: 'utf8', env: { ...process.env, GIT_OPTIONAL_LOCKS: '0', GIT_CONFIG_NOSYSTEM: '1' }, stdio: ['ignore', 'pipe', 'pipe'],
  }).trim();
}

/** Every file, directory and symlink under dir (not .git): path, type, mode, sha-256 or link target. */
export function listing(dir: string): string[] {
  const out: string[] = [];
  const visit = (rel: string) => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      if (rel === '' && name === '.git') continue;
      const r = rel ? `${rel}/${name}` : name;
      const st = lstatSync(join(dir, r));
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isSymbolicLink()) out.push(`${r} link ${readlinkSync(join(dir, r))}`);
      else if (st.isDirectory()) { out.push(`${r}/ dir ${mode}`); visit(r); }
      else out.push(`${r} file ${mode} ${sha256(join(dir, r))}`);
    }
  };
  visit('');
  return out;
}

export function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** What must not change in the user's repository. */
export function repoState(dir: string): Record<string, string> {
  return {
    head: git(dir, 'rev-parse', 'HEAD'),
    branch: git(dir, 'symbolic-ref', 'HEAD'),
    index: sha256(resolve(dir, git(dir, 'rev-parse', '--git-path', 'index'))),
    cached: git(dir, 'diff', '--cached'),
    status: git(dir, 'status', '--porcelain'),
    refs: git(dir, 'for-each-ref', '--format=%(refname) %(objectname)', 'refs/heads', 'refs/tags'),
  };
}
