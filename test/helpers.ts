import { pino, type Logger } from 'pino';
import { Writable } from 'node:stream';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

export const execFileP = promisify(execFile);

/** Repository root (tests run from dist/test/). */
export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const FIXTURES = path.join(REPO, 'fixtures');
export const CLI = path.join(REPO, 'bin', 'cmf-sage');

export interface LogRecord {
  level: number;
  msg: string;
  [k: string]: unknown;
}

/** A real pino logger whose records are kept for assertions. */
export function captureLogger(): { logger: Logger; records: LogRecord[] } {
  const records: LogRecord[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line) records.push(JSON.parse(line));
      cb();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), records };
}

export async function tempDir(prefix = 'cmf-sage-'): Promise<string> {
  return fsp.mkdtemp(path.join(os.tmpdir(), prefix));
}

/** Copy a fixture folder somewhere writable. */
export async function copyFixture(name: string, dest: string): Promise<string> {
  await fsp.cp(path.join(FIXTURES, name), dest, { recursive: true });
  return dest;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run the real CLI (bin/cmf-sage) and capture everything. */
export async function runCli(args: string[], opts: { cwd?: string; env?: Record<string, string | undefined> } = {}): Promise<RunResult> {
  try {
    const { stdout, stderr } = await execFileP(process.execPath, [CLI, ...args], {
      cwd: opts.cwd,
      env: { ...process.env, CMF_SAGE_LOG_LEVEL: 'info', ...opts.env },
      maxBuffer: 64 << 20,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** Rows from the real sqlite3 CLI (JSON mode). */
export async function sqlite(file: string, sql: string): Promise<Record<string, unknown>[]> {
  const { stdout } = await execFileP('sqlite3', ['-readonly', '-json', file, sql], { maxBuffer: 256 << 20 });
  return stdout.trim() ? JSON.parse(stdout) : [];
}

/** Run Python code with the file path as argv[1]; returns stdout. */
export async function python(code: string, ...args: string[]): Promise<string> {
  const { stdout } = await execFileP('python3', ['-c', code, ...args], { maxBuffer: 256 << 20 });
  return stdout;
}

export async function git(cwd: string, ...args: string[]): Promise<string> {
  const { stdout } = await execFileP('git', args, { cwd, maxBuffer: 256 << 20 });
  return stdout;
}
