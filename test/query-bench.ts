// Benchmark of the query commands (not a test: timing belongs here, not in
// the suite). Builds a 100,000-result mlmd with writeBulkMlmd once, then times
// the real CLI:
//
//   node dist/test/query-bench.js [--results N] [--models N] [--runs N] [--keep DIR] [--json]
//
// `results --model latest --json` must answer in under a second on the
// project's machine (issue 5). It reports the median and the best of --runs
// wall-clock times (the best is what the code costs; the median shows what
// other load on the machine adds), and also the all-versions case, where every
// one of the 100,000 rows is printed.
import { execFile } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeBulkMlmd } from './query-bulk-mlmd.js';

const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'cmf-sage');

export interface QueryBenchResult {
  results: number;
  models: number;
  mlmdBytes: number;
  generateMs: number;
  /** `results --model latest --json`: rows printed, best and median wall ms. */
  latest: Timing;
  /** `results --json` (every version): all rows. */
  all: Timing;
  /** `models --json`. */
  modelsCmd: Timing;
}

const GNU_TIME = '/usr/bin/time';

/**
 * Run the CLI once: wall ms, and CPU ms (user + sys) when GNU time is there;
 * CPU time barely moves when other work loads the machine, wall time does.
 */
async function timeCli(args: string[]): Promise<{ ms: number; cpuMs: number | null; stdout: string }> {
  const hasTime = await fsp.access(GNU_TIME).then(() => true, () => false);
  const cpuFile = path.join(os.tmpdir(), `cmf-sage-bench-cpu-${process.pid}`);
  const [cmd, argv] = hasTime
    ? [GNU_TIME, ['-f', '%U %S', '-o', cpuFile, process.execPath, CLI, ...args]]
    : [process.execPath, [CLI, ...args]];
  const t0 = performance.now();
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(cmd, argv, { maxBuffer: 1 << 30, env: { ...process.env, CMF_SAGE_LOG_LEVEL: 'warn' } }, (err, out) => (err ? reject(err) : resolve(out)));
  });
  const ms = performance.now() - t0;
  let cpuMs: number | null = null;
  if (hasTime) {
    const [u, s] = (await fsp.readFile(cpuFile, 'utf8')).trim().split(/\s+/).map(Number);
    cpuMs = Math.round((u + s) * 1000);
    await fsp.rm(cpuFile, { force: true });
  }
  return { ms, cpuMs, stdout };
}

interface Timing {
  rows: number;
  bestMs: number;
  medianMs: number;
  /** Best CPU time (user + sys) of the runs, when measurable. */
  cpuMs: number | null;
}

async function measure(args: string[], runs: number): Promise<Timing> {
  const times: number[] = [];
  const cpu: number[] = [];
  let rows = 0;
  for (let i = 0; i < runs; i++) {
    const r = await timeCli(args);
    times.push(r.ms);
    if (r.cpuMs !== null) cpu.push(r.cpuMs);
    const m = /"count":(\d+)/.exec(r.stdout.slice(0, 2000));
    rows = m ? Number(m[1]) : 0;
  }
  times.sort((a, b) => a - b);
  return { rows, bestMs: Math.round(times[0]), medianMs: Math.round(times[Math.floor(times.length / 2)]), cpuMs: cpu.length ? Math.min(...cpu) : null };
}

/** Build the workspace (or reuse `keep`), then time the commands. */
export async function benchQueries(o: { results?: number; models?: number; runs?: number; keep?: string } = {}): Promise<QueryBenchResult> {
  const results = o.results ?? 100_000;
  const models = o.models ?? 3;
  const runs = o.runs ?? 5;
  const ws = o.keep ?? (await fsp.mkdtemp(path.join(os.tmpdir(), 'cmf-sage-query-bench-')));
  let generateMs = 0;
  const mlmd = path.join(ws, 'mlmd');
  if (!(await fsp.stat(mlmd).then(() => true, () => false))) {
    const t0 = performance.now();
    await writeBulkMlmd({ workspace: ws, results, models });
    generateMs = Math.round(performance.now() - t0);
  }
  try {
    const base = ['--workspace', ws, '--json'];
    const latest = await measure(['results', '--model', 'latest', ...base], runs);
    const all = await measure(['results', ...base], Math.min(runs, 3));
    const m = await measure(['models', ...base], Math.min(runs, 3));
    return {
      results,
      models,
      mlmdBytes: (await fsp.stat(mlmd)).size,
      generateMs,
      latest,
      all,
      modelsCmd: m,
    };
  } finally {
    if (!o.keep) await fsp.rm(ws, { recursive: true, force: true });
  }
}

const cpu = (t: Timing) => (t.cpuMs === null ? '' : `, CPU ${t.cpuMs} ms`);

const isMain = process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(name);
    return i > 0 ? process.argv[i + 1] : undefined;
  };
  const r = await benchQueries({
    results: arg('--results') ? Number(arg('--results')) : undefined,
    models: arg('--models') ? Number(arg('--models')) : undefined,
    runs: arg('--runs') ? Number(arg('--runs')) : undefined,
    keep: arg('--keep'),
  });
  if (process.argv.includes('--json')) {
    process.stdout.write(JSON.stringify(r, null, 2) + '\n');
  } else {
    const mb = (r.mlmdBytes / 1e6).toFixed(0);
    process.stdout.write(
      [
        `mlmd: ${r.results} results over ${r.models} model versions, ${mb} MB${r.generateMs ? ` (generated in ${(r.generateMs / 1000).toFixed(1)} s)` : ''}`,
        `results --model latest --json: ${r.latest.rows} rows, best ${r.latest.bestMs} ms, median ${r.latest.medianMs} ms${cpu(r.latest)} (target < 1000 ms)`,
        `results --json (every version): ${r.all.rows} rows, best ${r.all.bestMs} ms, median ${r.all.medianMs} ms${cpu(r.all)}`,
        `models --json: best ${r.modelsCmd.bestMs} ms, median ${r.modelsCmd.medianMs} ms${cpu(r.modelsCmd)}`,
        `load average now: ${os.loadavg().map((x) => x.toFixed(1)).join(' ')} (wall times grow with it; CPU times hardly)`,
      ].join('\n') + '\n',
    );
  }
}
