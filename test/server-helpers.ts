// Workspaces and small tools for the test/server-*.test.ts files (push to cmf-server).
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { copyFixture, execFileP, FIXTURES, runCli, tempDir } from './helpers.js';
import { silentLogger } from '../src/log.js';
import { sealForPush } from '../src/recorder/offline.js';
import { listSegments } from '../src/recorder/segment.js';

export interface ServerWorkspace {
  root: string;
  ws: string;
  logdir: string;
  model: string;
}

/** Measurements whose values test the payload's number and string rules. */
export const TRICKY_MEASUREMENTS: [string, string][] = [
  ['env.whole_double', '1.0'],
  ['env.temperature', '23.5'],
  ['env.count', '42'],
  ['env.big_int', '12345678901234567'],
  ['env.nan', 'NaN'],
  ['env.tiny', '1e-07'],
  ['env.huge', '1e+16'],
  ['env.negative_zero', '-0.0'],
  ['env.text', JSON.stringify('naïve ☃ 😀 "q" \\ tab\there \u0001 del\u007f')],
];

/** pywaggle's wall-clock text for ns (the fixture's zone is UTC). */
export function isoWall(ts: bigint): string {
  const base = new Date(Number(ts / 1_000_000n)).toISOString().slice(0, 19);
  return `${base}.${(ts % 1_000_000_000n).toString().padStart(9, '0')}`;
}

/** Append measurement lines (raw JSON value text, as pywaggle writes it). */
export async function addMeasurements(logdir: string, items: [string, string][], startNs = 1796312090000000001n): Promise<void> {
  let ts = startNs;
  let lines = '';
  for (const [name, value] of items) {
    lines += `{"meta":{"unit":"°C","sensor":"bme680"},"name":"${name}","timestamp":"${isoWall(ts)}","value":${value}}\n`;
    ts += 1_000_000_007n;
  }
  await fsp.appendFile(path.join(logdir, 'data.ndjson'), lines);
}

/** Add pywaggle uploads (file, then its line). */
export async function addUploads(logdir: string, n: number, startNs: bigint, size = 3000, tag = 'x'): Promise<void> {
  let lines = '';
  for (let i = 0; i < n; i++) {
    const ts = startNs + BigInt(i) * 1_000_000_123n;
    const name = `${ts}-${tag}.jpg`;
    const body = Buffer.alloc(size, (i * 7 + 3) % 256);
    body.write(`${tag} ${i} ${ts}`);
    await fsp.writeFile(path.join(logdir, 'uploads', name), body);
    lines += `{"meta":{"filename":"${tag}.jpg"},"name":"upload","timestamp":"${isoWall(ts)}","value":"/plugin/logdir/uploads/${name}"}\n`;
  }
  await fsp.appendFile(path.join(logdir, 'data.ndjson'), lines);
}

/** `watch --once` over a copy of the pywaggle fixture (plus tricky measurements), optionally with remotes. */
export async function recordWorkspace(opts: { dvcRemote?: string; gitRemote?: string; tricky?: boolean; root?: string } = {}): Promise<ServerWorkspace> {
  const root = opts.root ?? (await tempDir('server-'));
  const logdir = await copyFixture('pywaggle-smokeynet/logdir', path.join(root, 'logdir'));
  if (opts.tricky !== false) await addMeasurements(logdir, TRICKY_MEASUREMENTS);
  const model = path.join(root, 'model.bin');
  await fsp.copyFile(path.join(FIXTURES, 'model', 'smoke-model-v1.bin'), model);
  const t = { root, ws: path.join(root, 'ws'), logdir, model };
  await watchOnce(t, opts);
  return t;
}

export async function watchOnce(t: ServerWorkspace, opts: { dvcRemote?: string; gitRemote?: string } = {}): Promise<void> {
  const args = ['watch', '--once', '--pipeline', 'smoke', '--model', t.model, '--results', t.logdir, '--workspace', t.ws];
  if (opts.dvcRemote) args.push('--dvc-remote', opts.dvcRemote);
  if (opts.gitRemote) args.push('--git-remote', opts.gitRemote);
  const run = await runCli(args);
  if (run.code !== 0) throw new Error(`watch --once failed (${run.code}): ${run.stderr}`);
}

/** Seal what is closed into a segment (what push does first); returns the segment folders. */
export async function seal(ws: string): Promise<string[]> {
  await sealForPush(ws, silentLogger());
  return (await listSegments(ws)).map((s) => s.dir);
}

/** Run Python with stdin; returns stdout. */
export function pythonWithInput(code: string, input: string, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn('python3', ['-c', code, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (c) => (out += c));
    p.stderr.on('data', (c) => (err += c));
    p.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`python3 exited ${code}: ${err}`))));
    p.stdin.end(input);
  });
}

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Run dist/test/server-child.js with a JSON job (and extra environment), to its end or its death. */
export function runChild(job: unknown, env: Record<string, string> = {}, timeoutMs = 180_000): Promise<ChildExit> {
  const script = path.join(path.dirname(new URL(import.meta.url).pathname), 'server-child.js');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, JSON.stringify(job)], { env: { ...process.env, CMF_SAGE_LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

export async function md5sum(file: string): Promise<string> {
  const { stdout } = await execFileP('md5sum', [file]);
  return stdout.split(' ')[0]!;
}
