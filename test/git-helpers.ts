import { spawn, spawnSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Helpers shared by the test/git-*.test.ts files: the real git CLI is the judge. */

export interface GitRun {
  code: number;
  stdout: string;
  stderr: string;
}

const GIT_ENV = {
  ...process.env,
  // Keep the user's and system config out of the verdict.
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  HOME: os.tmpdir(),
  GIT_AUTHOR_NAME: 't',
  GIT_AUTHOR_EMAIL: 't@t',
  GIT_COMMITTER_NAME: 't',
  GIT_COMMITTER_EMAIL: 't@t',
};

export function gitSync(dir: string, ...args: string[]): GitRun {
  const r = spawnSync('git', args, { cwd: dir, env: GIT_ENV, encoding: 'utf8', maxBuffer: 64 << 20 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export function gitAsync(dir: string, ...args: string[]): Promise<GitRun> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', args, { cwd: dir, env: GIT_ENV });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** `git fsck --full --strict`; dangling objects are reported on stdout but do not fail it. */
export function fsck(dir: string): GitRun {
  return gitSync(dir, 'fsck', '--full', '--strict', '--no-progress');
}

export function tempDir(tag: string): Promise<string> {
  return fsp.mkdtemp(path.join(os.tmpdir(), `cmf-sage-${tag}-`));
}

/** A small DVC 3.x pointer file, unique per `seed`. */
export function pointerText(seed: string): string {
  return `outs:\n- md5: ${seed.padEnd(32, '0').slice(0, 32)}\n  size: ${seed.length}\n  hash: md5\n  path: ${path.basename(seed)}\n`;
}

export async function writePointer(dir: string, rel: string, seed = rel): Promise<void> {
  const file = path.join(dir, rel);
  await fsp.mkdir(path.dirname(file), { recursive: true });
  await fsp.writeFile(file, pointerText(seed));
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
