import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { v1 as uuidv1 } from 'uuid';
import { loadMlmd, saveMlmd, MlmdStore } from '../../src/mlmd/index.js';
import { Applier } from '../../src/recorder/apply.js';
import type { Entry, OpenEntry } from '../../src/recorder/entries.js';
import { WorkspaceRepo } from '../../src/git/index.js';
import { renderPointer, ensureIgnoredDataDir } from '../../src/dvc/index.js';
import { resultWorkspacePath } from '../../src/sources/layout.js';
import { silentLogger } from '../../src/log.js';
import { pywaggleTimestamp } from '../lib/pywaggle.js';
import { median, round } from '../lib/stats.js';
import { withTempDir } from '../lib/tmp.js';
import type { PhaseCtx } from './context.js';

const hex = (bytes: number) => randomBytes(bytes).toString('hex');

/**
 * Journal entries as the recorder writes them for `n` pywaggle results (a
 * 50 KB upload + one env.smoke.certainty measurement each), 10 results/s, one
 * execution per 60 s window (open ... close), in batches like the recorder's.
 */
export function syntheticEntries(n: number): Entry[][] {
  const batches: Entry[][] = [];
  const perWindow = 600;
  const t0 = Date.now();
  const startNs = BigInt(t0) * 1_000_000n;
  const model = { md5: hex(16), sha1: hex(20), size: 4 << 20, path: 'models/model.onnx', source: '/src/model.onnx', framework: 'Default', type: 'Default', name: 'Default' };
  let open: OpenEntry | undefined;
  let batch: Entry[] = [];
  for (let i = 0; i < n; i++) {
    const ns = startNs + BigInt(i) * 100_000_000n + BigInt(i % 997);
    const timeMs = t0 + i * 100;
    if (!open) {
      open = {
        t: 'open', uuid: uuidv1(), timeMs, startNs: ns.toString(), pipeline: 'bench', stage: 'inference', executionType: 'inference',
        command: 'cmf-sage watch --pipeline bench --model /src/model.onnx', gitRepo: '', gitStart: hex(20), remoteUrl: '/data/cmf-workspace-dvc-remote',
        model, source: 'pywaggle', identity: { sidecar_version: 'cmf-sage 0.1.0', hostname: 'bench' },
      };
      batch.push(open);
    }
    const key = `${ns}-frame.jpg`;
    batch.push({
      t: 'file', exec: open.uuid, timeMs, md5: hex(16), sha1: hex(20), size: 50 << 10, path: resultWorkspacePath(ns, key),
      filename: 'frame.jpg', tsNs: ns.toString(), tsExact: true, uploadKey: key, meta: {}, origin: `data.ndjson:${2 * i + 1}`,
    });
    batch.push({
      t: 'measure', exec: open.uuid, timeMs, uri: uuidv1(), name: 'env.smoke.certainty', value: { kind: 'double', value: 0.5 + Math.random() / 2 },
      tsNs: ns.toString(), tsExact: true, timestampText: pywaggleTimestamp(ns), meta: { camera: 'rtsp://camera-top:554/live' }, origin: `data.ndjson:${2 * i + 2}`,
    });
    if ((i + 1) % perWindow === 0 || i === n - 1) {
      batch.push({ t: 'close', exec: open.uuid, timeMs: timeMs + 1, endNs: (ns + 1_000_000n).toString(), gitEnd: hex(20) });
      open = undefined;
    }
    if (batch.length >= 200 || i === n - 1) {
      batches.push(batch);
      batch = [];
    }
  }
  return batches;
}

/**
 * save_ms_1k / save_ms_10k: an mlmd built by the recorder's own Applier from
 * synthetic journal entries, then saveMlmd (durable: temp file, fsync,
 * rename, fsync dir), median of 5. mlmd_bytes_per_result (fallback when the
 * scale phase does not run) = file size / results.
 */
export async function savePhase(ctx: PhaseCtx) {
  return withTempDir('save', async (dir) => {
    const out: Record<string, number> = {};
    const details: Record<string, unknown> = {};
    for (const n of [1_000, 10_000]) {
      ctx.progress(`save: building an mlmd with ${n} results`);
      const file = path.join(dir, `mlmd-${n}`);
      const { db } = await loadMlmd(file);
      const store = new MlmdStore(db);
      const applier = new Applier(store);
      const tb = performance.now();
      for (const b of syntheticEntries(n)) applier.apply(b);
      const buildMs = performance.now() - tb;
      let stamp = (await saveMlmd(store, file)).stamp; // first save creates the file
      const times: number[] = [];
      const exportMs: number[] = [];
      for (let i = 0; i < 5; i++) {
        const te = performance.now();
        db.export();
        exportMs.push(performance.now() - te);
        const r = await saveMlmd(store, file, { expect: stamp });
        stamp = r.stamp;
        times.push(r.ms);
      }
      const bytes = statSync(file).size;
      out[`save_ms_${n / 1000}k`] = round(median(times));
      details[`save_ms_all_${n / 1000}k`] = times.map((x) => round(x));
      details[`save_export_ms_${n / 1000}k`] = round(median(exportMs));
      details[`save_mlmd_bytes_${n / 1000}k`] = bytes;
      details[`save_apply_us_per_result_${n / 1000}k`] = round((buildMs / n) * 1000);
      if (n === 10_000) out.mlmd_bytes_per_result = Math.round(bytes / n);
      store.close();
    }
    return { ...out, details };
  });
}

const GIT_ENV = {
  ...process.env,
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  HOME: os.tmpdir(),
  GIT_AUTHOR_NAME: 'bench',
  GIT_AUTHOR_EMAIL: 'bench@localhost',
  GIT_COMMITTER_NAME: 'bench',
  GIT_COMMITTER_EMAIL: 'bench@localhost',
};

function git(dir: string, ...args: string[]): void {
  const r = spawnSync('git', args, { cwd: dir, env: GIT_ENV, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')} failed: ${r.stderr}`);
}

/** A pointer as watch writes it, for a new pywaggle upload; returns its workspace path. */
function writeResultPointer(dir: string, ns: bigint): string {
  const key = `${ns}-frame.jpg`;
  const wsPath = resultWorkspacePath(ns, key);
  const rel = `${wsPath}.dvc`;
  const file = path.join(dir, rel);
  writeFileSync(file, renderPointer({ md5: hex(16), size: 50 << 10, path: key }));
  return rel;
}

/**
 * git_ms_per_commit_1k/10k: a workspace repo (created by WorkspaceRepo.init)
 * whose branch tracks 1k / 10k result pointers (seeded with the git CLI, in
 * one day folder as watch lays them out), copied with `cp -a` so both tools
 * start from identical repos. Then one new pointer per commit: timed
 * WorkspaceRepo.commit (isomorphic-git, fsync on) vs `git add f && git
 * commit -q -m x` (git CLI, default config), 1 warm-up + median of 5. Also
 * the CLI with core.fsync=all and an isomorphic-git commit of 100 pointers.
 */
export async function gitPhase(ctx: PhaseCtx) {
  return withTempDir('git', async (dir) => {
    const out: Record<string, number> = {};
    const details: Record<string, unknown> = {};
    let seq = BigInt(Date.now()) * 1_000_000n;
    for (const n of [1_000, 10_000]) {
      ctx.progress(`git: repo with ${n} pointers`);
      const a = path.join(dir, `iso-${n}`);
      const b = path.join(dir, `cli-${n}`);
      const init = new WorkspaceRepo(a, { logger: silentLogger() });
      await init.init({ branch: 'mlmd' });
      const day = path.join(a, path.dirname(resultWorkspacePath(seq, 'x')));
      mkdirSync(day, { recursive: true });
      await ensureIgnoredDataDir(day);
      for (let i = 0; i < n; i++) writeResultPointer(a, ++seq);
      git(a, 'add', 'results');
      git(a, '-c', 'gc.auto=0', 'commit', '-q', '-m', `seed ${n}`);
      const cp = spawnSync('cp', ['-a', a, b]);
      if (cp.status !== 0) throw new Error(`cp -a failed: ${cp.stderr}`);

      const repo = new WorkspaceRepo(a, { logger: silentLogger() });
      const iso: number[] = [];
      for (let i = 0; i < 6; i++) {
        const rel = writeResultPointer(a, ++seq);
        const t = performance.now();
        await repo.commit([rel], `cmf-sage: record results (bench ${i})`);
        if (i > 0) iso.push(performance.now() - t);
      }
      const cli: number[] = [];
      const cliFsync: number[] = [];
      for (let i = 0; i < 11; i++) {
        const rel = writeResultPointer(b, ++seq);
        const extra = i >= 6 ? ['-c', 'core.fsync=all', '-c', 'core.fsyncMethod=fsync'] : [];
        const t = performance.now();
        git(b, ...extra, 'add', rel);
        git(b, ...extra, '-c', 'gc.auto=0', 'commit', '-q', '-m', `x ${i}`);
        const ms = performance.now() - t;
        if (i >= 1 && i < 6) cli.push(ms);
        if (i >= 6) cliFsync.push(ms);
      }
      // A checkpoint commits all pointers since the last one: 100 at once.
      const many: string[] = [];
      for (let i = 0; i < 100; i++) many.push(writeResultPointer(a, ++seq));
      const t100 = performance.now();
      await repo.commit(many, 'cmf-sage: record results (bench 100)');
      const k = `${n / 1000}k`;
      out[`git_ms_per_commit_${k}`] = round(median(iso));
      out[`git_cli_ms_per_commit_${k}`] = round(median(cli));
      details[`git_ms_all_${k}`] = iso.map((x) => round(x));
      details[`git_cli_ms_all_${k}`] = cli.map((x) => round(x));
      details[`git_cli_fsync_all_ms_per_commit_${k}`] = round(median(cliFsync));
      details[`git_ms_commit_100_pointers_${k}`] = round(performance.now() - t100);
      details[`git_index_bytes_${k}`] = statSync(path.join(a, '.git', 'index')).size;
    }
    return { ...out, details };
  });
}
