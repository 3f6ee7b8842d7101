/**
 * `npm run bench`: measures cmf-sage against the targets of issue 6 with the
 * real built CLI on inputs it generates itself. See bench/README.md.
 *
 *   node dist/bench/run.js [--json] [--quick] [--only k1,k2] [--runs N]
 *                          [--details] [--out FILE] [--keep] [--cpu-prof DIR] [--debug-log]
 *                          [--mem-trace DIR]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { machineInfo, type MachineInfo } from './lib/machine.js';
import { stopAll, ROOT, setWatchLogLevel } from './lib/proc.js';
import { spawnSync } from 'node:child_process';
import { median, round } from './lib/stats.js';
import { keepTemps } from './lib/tmp.js';
import type { PhaseCtx } from './phases/context.js';
import { KEYS, TARGETS, UNITS, verdict, type Key } from './keys.js';
import { burstPhase, latencyPhase, mbPhase, scalePhase } from './phases/watch.js';
import { gitPhase, savePhase } from './phases/store.js';
import { pushPhase } from './phases/push.js';

/** Which phase produces each key (the first listed phase that runs wins for shared keys). */
const PHASES: { name: string; keys: Key[]; run: (ctx: PhaseCtx) => Promise<Record<string, unknown>> }[] = [
  { name: 'latency', keys: ['latency_ms_p50', 'latency_ms_p99'], run: latencyPhase },
  { name: 'burst', keys: ['results_per_s'], run: burstPhase },
  { name: 'mb', keys: ['mb_per_s', 'baseline_mb_per_s', 'mb_ratio'], run: mbPhase },
  { name: 'save', keys: ['save_ms_1k', 'save_ms_10k'], run: savePhase },
  { name: 'git', keys: ['git_ms_per_commit_1k', 'git_ms_per_commit_10k', 'git_cli_ms_per_commit_1k', 'git_cli_ms_per_commit_10k'], run: gitPhase },
  { name: 'scale', keys: ['rss_mb_idle', 'rss_mb_peak_100k', 'cpu_s_per_1k', 'status_ms', 'mlmd_bytes_per_result', 'results_latest_ms_100k'], run: scalePhase },
  { name: 'push', keys: ['push_mb_per_s', 'curl_mb_per_s', 'push_mb_ratio', 'metadata_push_ms_10k'], run: pushPhase },
];
/** Keys a phase also yields as a fallback when their own phase is not selected. */
const FALLBACK: Partial<Record<Key, string>> = { rss_mb_idle: 'latency', mlmd_bytes_per_result: 'save' };

interface Args {
  json: boolean;
  quick: boolean;
  only?: Set<Key>;
  runs: number;
  details: boolean;
  out?: string;
  keep: boolean;
  cpuProf?: string;
  debugLog: boolean;
  memTrace?: string;
}

function usage(msg?: string): never {
  if (msg) process.stderr.write(`bench: ${msg}\n`);
  process.stderr.write(
    'usage: node dist/bench/run.js [--json] [--quick] [--only key1,key2] [--runs N] [--details] [--out FILE] [--keep] [--cpu-prof DIR] [--debug-log] [--mem-trace DIR]\n' +
      `keys: ${KEYS.join(', ')}\n`,
  );
  process.exit(2);
}

function parseArgs(argv: string[]): Args {
  const a: Args = { json: false, quick: false, runs: 1, details: false, keep: false, debugLog: false };
  for (let i = 0; i < argv.length; i++) {
    const f = argv[i]!;
    const val = () => argv[++i] ?? usage(`${f} needs a value`);
    if (f === '--json') a.json = true;
    else if (f === '--quick') a.quick = true;
    else if (f === '--details') a.details = true;
    else if (f === '--keep') a.keep = true;
    else if (f === '--debug-log') a.debugLog = true;
    else if (f === '--mem-trace') a.memTrace = path.resolve(val());
    else if (f === '--only') {
      const keys = val().split(',').map((k) => k.trim()).filter(Boolean);
      for (const k of keys) if (!(KEYS as readonly string[]).includes(k)) usage(`unknown key ${k}`);
      a.only = new Set(keys as Key[]);
    } else if (f === '--runs') {
      a.runs = Number(val());
      if (!Number.isInteger(a.runs) || a.runs < 1) usage('--runs needs a positive integer');
    } else if (f === '--out') a.out = path.resolve(val());
    else if (f === '--cpu-prof') a.cpuProf = path.resolve(val());
    else if (f === '--help' || f === '-h') usage();
    else usage(`unknown flag ${f}`);
  }
  return a;
}

/**
 * Phases needed for `--only`. Keys with a FALLBACK come from their cheaper
 * fallback phase unless their own phase runs anyway for another key.
 */
function selectedPhases(only: Set<Key> | undefined): string[] {
  if (!only) return PHASES.map((p) => p.name);
  const names = new Set<string>();
  const ownPhase = (k: Key) => PHASES.find((p) => p.keys.includes(k))!.name;
  for (const k of only) if (!FALLBACK[k]) names.add(ownPhase(k));
  for (const k of only) if (FALLBACK[k] && !names.has(ownPhase(k))) names.add(FALLBACK[k]!);
  return PHASES.map((p) => p.name).filter((n) => names.has(n));
}

async function runOnce(args: Args, run: number): Promise<{ values: Partial<Record<Key, number>>; details: Record<string, unknown>; errors: string[] }> {
  const values: Partial<Record<Key, number>> = {};
  const details: Record<string, unknown> = {};
  const errors: string[] = [];
  let nodeArgs: string[] | undefined;
  if (args.cpuProf) {
    const d = path.join(args.cpuProf, `run${run}`);
    mkdirSync(d, { recursive: true });
    nodeArgs = ['--cpu-prof', `--cpu-prof-dir=${d}`];
  }
  if (args.memTrace) {
    // Each watch process appends memoryUsage() lines to <dir>/run<N>-<pid>.ndjson.
    mkdirSync(args.memTrace, { recursive: true });
    nodeArgs = [...(nodeArgs ?? []), '--import', path.join(ROOT, 'dist', 'bench', 'lib', 'memtrace.js')];
    process.env.CMF_BENCH_MEMTRACE_DIR = args.memTrace;
    process.env.CMF_BENCH_RUN = String(run);
  }
  const ctx: PhaseCtx = {
    quick: args.quick,
    nodeArgs,
    progress: (m) => process.stderr.write(`bench[${run}] ${new Date().toISOString().slice(11, 19)} ${m}\n`),
  };
  const phases = selectedPhases(args.only);
  // Other work on the machine skews every figure: keep the load average with the results.
  details.loadavg_start = os.loadavg().map((x) => round(x, 2));
  details.source = sourceState();
  for (const name of phases) {
    const phase = PHASES.find((p) => p.name === name)!;
    const t0 = performance.now();
    ctx.progress(`phase ${name}`);
    try {
      const res = await phase.run(ctx);
      for (const [k, v] of Object.entries(res)) {
        if (k === 'details') Object.assign(details, v);
        else if (phase.keys.includes(k as Key)) values[k as Key] = v as number;
        else if (FALLBACK[k as Key] === name && !phases.some((n) => PHASES.find((p) => p.name === n)!.keys.includes(k as Key))) {
          values[k as Key] = v as number;
        }
      }
    } catch (err) {
      errors.push(`${name}: ${(err as Error).stack ?? String(err)}`);
      ctx.progress(`phase ${name} FAILED: ${(err as Error).message}`);
    } finally {
      await stopAll();
    }
    details[`phase_s_${name}`] = round((performance.now() - t0) / 1000, 1);
  }
  details.loadavg_end = os.loadavg().map((x) => round(x, 2));
  return { values, details, errors };
}

/** Which code was measured: HEAD and the files changed in src/ since (others edit the tree meanwhile). */
function sourceState(): { head: string; dirty_src: string[] } {
  const run = (args: string[]) => spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' }).stdout?.trim() ?? '';
  return {
    head: run(['rev-parse', '--short', 'HEAD']),
    dirty_src: run(['status', '--porcelain', '--', 'src']).split('\n').filter(Boolean),
  };
}

function table(values: Partial<Record<Key, number>>, machine: MachineInfo, runs: number, perRun: Partial<Record<Key, number>>[]): string {
  const lines: string[] = [];
  lines.push(`cmf-sage benchmark (${machine.bench_mode}${runs > 1 ? `, median of ${runs} runs` : ''})`);
  lines.push(`machine: ${machine.cpu}, ${machine.cores} cores, ${machine.mem_gb} GB, ${machine.disk_fs} (${machine.tmpdir}), node ${machine.node}, git ${machine.git}`);
  lines.push('');
  const head = ['key', 'value', 'unit', 'target', 'verdict', ...(runs > 1 ? ['runs'] : [])];
  const rows = KEYS.filter((k) => values[k] !== undefined).map((k) => {
    const t = TARGETS[k];
    return [
      k,
      String(values[k]),
      UNITS[k] ?? '',
      t ? `${t.op} ${t.v}` : '',
      verdict(k, values[k]),
      ...(runs > 1 ? [perRun.map((r) => (r[k] === undefined ? '-' : String(r[k]))).join(' / ')] : []),
    ];
  });
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (r: string[]) => r.map((c, i) => (i === 1 ? c.padStart(w[i]!) : c.padEnd(w[i]!))).join('  ').trimEnd();
  lines.push(fmt(head));
  lines.push(w.map((n) => '-'.repeat(n)).join('  '));
  for (const r of rows) lines.push(fmt(r));
  return lines.join('\n') + '\n';
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  keepTemps(args.keep);
  if (args.debugLog) setWatchLogLevel('debug');
  const machine = machineInfo(args.quick);
  const perRun: Partial<Record<Key, number>>[] = [];
  const perRunDetails: Record<string, unknown>[] = [];
  const errors: string[] = [];
  const onSignal = () => {
    void stopAll().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    for (let r = 1; r <= args.runs; r++) {
      const res = await runOnce(args, r);
      perRun.push(res.values);
      perRunDetails.push(res.details);
      errors.push(...res.errors.map((e) => `run ${r}: ${e}`));
    }
  } finally {
    await stopAll();
  }
  const values: Partial<Record<Key, number>> = {};
  for (const k of KEYS) {
    if (args.only && !args.only.has(k)) continue;
    const vs = perRun.map((r) => r[k]).filter((v): v is number => v !== undefined && Number.isFinite(v));
    if (vs.length > 0) values[k] = round(median(vs), k === 'mb_ratio' || k === 'push_mb_ratio' || k === 'cpu_s_per_1k' ? 2 : 1);
  }
  if (values.mlmd_bytes_per_result !== undefined) values.mlmd_bytes_per_result = Math.round(values.mlmd_bytes_per_result);
  const obj: Record<string, unknown> = { ...values, machine };
  const full = { ...obj, runs: perRun, details: perRunDetails, errors };
  if (args.details) Object.assign(obj, { runs: perRun, details: perRunDetails, errors });
  if (args.out) writeFileSync(args.out, JSON.stringify(full, null, 2) + '\n');
  if (args.json) process.stdout.write(JSON.stringify(obj) + '\n');
  else {
    process.stdout.write(table(values, machine, args.runs, perRun));
    if (args.details) process.stdout.write(`\ndetails:\n${JSON.stringify(perRunDetails, null, 2)}\n`);
  }
  for (const e of errors) process.stderr.write(`bench: ${e}\n`);
  process.exitCode = errors.length > 0 ? 1 : 0;
}

await main();
