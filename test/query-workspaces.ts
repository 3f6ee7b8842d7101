// Workspaces recorded by the real CLI for the query-*.test.ts files.
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { copyFixture, FIXTURES, runCli, tempDir } from './helpers.js';

const md5 = async (f: string) => createHash('md5').update(await fsp.readFile(f)).digest('hex');
export const V1 = path.join(FIXTURES, 'model', 'smoke-model-v1.bin');
export const V2 = path.join(FIXTURES, 'model', 'smoke-model-v2.bin');

export const T_V2 = '1796312099000000001'; // the one upload while v2 was loaded
export const T_V3 = '1796312100000000002'; // uploads while v3 was loaded
/** Quotes and commas for CSV; a `:` so a path is not cut at the first one (Datasets are named `<path>:<md5>`). */
export const AWKWARD = 'det, "best" 12:00.json';
export const MULTILINE = 'first, "quoted"\nsecond line';

export interface Recorded {
  root: string;
  ws: string;
  logdir: string;
  v1: string;
  v2: string;
  v3: string;
}

/** Three `watch --once` runs, the model file replaced between them (v1 → v2 → v3). */
export async function recordModelChangedTwice(extraArgs: string[] = []): Promise<Recorded> {
  const root = await tempDir('query-e2e-');
  const logdir = await copyFixture('pywaggle-smokeynet/logdir', path.join(root, 'logdir'));
  const model = path.join(root, 'model.bin');
  const ws = path.join(root, 'ws');
  const args = ['watch', '--once', '--pipeline', 'smoke', '--model', model, '--results', logdir, '--workspace', ws, '--settle', '0', ...extraArgs];
  const upload = async (ts: string, filename: string, bytes: string | Buffer) => {
    await fsp.writeFile(path.join(logdir, 'uploads', `${ts}-${filename}`), bytes);
    await fsp.appendFile(
      path.join(logdir, 'data.ndjson'),
      JSON.stringify({ meta: { filename }, name: 'upload', timestamp: isoWall(ts), value: `/plugin/logdir/uploads/${ts}-${filename}` }) + '\n',
    );
  };
  const measure = async (ts: string, name: string, value: unknown) =>
    fsp.appendFile(path.join(logdir, 'data.ndjson'), JSON.stringify({ meta: {}, name, timestamp: isoWall(ts), value }) + '\n');

  await fsp.copyFile(V1, model);
  let run = await runCli(args);
  assert.equal(run.code, 0, run.stderr);

  await fsp.copyFile(V2, model);
  await upload(T_V2, 'sample_current.jpg', 'new frame');
  run = await runCli(args);
  assert.equal(run.code, 0, run.stderr);

  await fsp.writeFile(model, 'model v3 weights');
  // the same bytes as the very first upload: recorded once, linked to this execution too
  await upload(T_V3, 'sample_current.jpg', await fsp.readFile(path.join(logdir, 'uploads', '1796312074950677949-sample_current.jpg')));
  await upload(T_V3, AWKWARD, '{"boxes": []}');
  await measure(T_V3, 'env.smoke.certainty', 0.25);
  await measure(T_V3, 'env.smoke.note', MULTILINE);
  run = await runCli(args);
  assert.equal(run.code, 0, run.stderr);
  return { root, ws, logdir, v1: await md5(V1), v2: await md5(V2), v3: await md5(model) };
}

/** pywaggle's local wall-clock string for an upload time (the fixture's zone is UTC). */
function isoWall(ts: string): string {
  const ns = BigInt(ts);
  const base = new Date(Number(ns / 1_000_000n)).toISOString().slice(0, 19);
  return `${base}.${(ns % 1_000_000_000n).toString().padStart(9, '0')}`;
}

let recorded: Promise<Recorded> | undefined;
/** One recording per test process, shared by its tests. */
export const workspace = () => (recorded ??= recordModelChangedTwice());


let segmented: Promise<Recorded> | undefined;
/** The same recording, each run's execution sealed into a segment of its own; shared like `workspace`. */
export const segmentedWorkspace = () => (segmented ??= recordModelChangedTwice(['--segment-results', '1']));
