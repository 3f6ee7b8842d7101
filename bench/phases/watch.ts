import { mkdirSync, openSync, closeSync, writeSync, renameSync, statSync, writeFileSync, rmSync, existsSync, readdirSync } from 'node:fs';
import { randomFillSync, randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { PywaggleWriter } from '../lib/pywaggle.js';
import { startWatch, readCpuSeconds, readRss, timeCommand, timeStatus, running, Contention, type WatchProc } from '../lib/proc.js';
import { median, percentile, round, sleep } from '../lib/stats.js';
import { withTempDir } from '../lib/tmp.js';
import { sizes, type PhaseCtx } from './context.js';

interface Setup {
  dir: string;
  logdir: string;
  ws: string;
  model: string;
  writer: PywaggleWriter;
}

function setup(dir: string): Setup {
  const logdir = path.join(dir, 'logdir');
  const writer = new PywaggleWriter(logdir); // creates logdir/, uploads/ and data.ndjson, as Plugin() does
  const model = path.join(dir, 'model.onnx');
  writeFileSync(model, randomBytes(4 << 20));
  return { dir, logdir, ws: path.join(dir, 'ws'), model, writer };
}

async function withWatch<T>(ctx: PhaseCtx, s: Setup, tag: string, fn: (w: WatchProc) => Promise<T>): Promise<T> {
  const w = await startWatch({
    ws: s.ws,
    logdir: s.logdir,
    model: s.model,
    logFile: path.join(s.dir, `${tag}.log`),
    nodeArgs: ctx.nodeArgs,
  });
  try {
    await w.ready();
    return await fn(w);
  } finally {
    const r = await w.stop();
    running.delete(w);
    if (r.killed) ctx.progress(`${tag}: watch did not stop within the timeout; killed`);
    s.writer.close();
  }
}

function recorderStats(w: WatchProc): Record<string, unknown> {
  return w.statsSummary();
}

function warnSummary(w: WatchProc): string[] {
  return w.log.warnings.slice(0, 5).map((l) => `${l.level}: ${l.msg}`);
}

/**
 * latency_ms_p50/p99: a steady 10 results/s (50 KB upload + its line + a
 * measurement line) for 60 s; latency = `time` of the `recorded <key>` log
 * line (written right after the journal fsync) minus Date.now() when the
 * upload line's write(2) returned.
 * Also: RSS after 5 s idle, CPU at a steady 10/s.
 */
export async function latencyPhase(ctx: PhaseCtx) {
  const z = sizes(ctx.quick);
  return withTempDir('latency', async (dir) => {
    const s = setup(dir);
    return withWatch(ctx, s, 'latency', async (w) => {
      w.sample();
      await sleep(z.idleMs);
      const idle = median(w.samples.map((x) => x.rssMb));
      const n = z.latencySeconds * z.latencyRate;
      const interval = 1000 / z.latencyRate;
      ctx.progress(`latency: ${n} results at ${z.latencyRate}/s`);
      const cpu0 = readCpuSeconds(w.pid)!;
      const other = new Contention();
      other.start(w.pid);
      const sent: { key: string; writtenAt: number }[] = [];
      const t0 = Date.now() + 50;
      for (let i = 0; i < n; i++) {
        const due = t0 + i * interval;
        const wait = due - Date.now();
        if (wait > 0) await sleep(wait);
        sent.push(s.writer.result(z.latencyBytes));
      }
      await w.waitRecorded(sent.map((x) => x.key), 60_000);
      const cpu1 = readCpuSeconds(w.pid)!;
      const otherCores = other.end(w.pid);
      const lat = sent.map((x) => w.recorded.get(x.key)! - x.writtenAt);
      return {
        latency_ms_p50: round(percentile(lat, 50)),
        latency_ms_p99: round(percentile(lat, 99)),
        rss_mb_idle: round(idle),
        details: {
          latency_results: n,
          latency_ms_max: round(Math.max(...lat)),
          latency_ms_min: round(Math.min(...lat)),
          latency_ms_p90: round(percentile(lat, 90)),
          latency_ms_mean: round(lat.reduce((a, b) => a + b, 0) / lat.length),
          latency_cpu_s_per_1k_at_10hz: round(((cpu1 - cpu0) / n) * 1000, 2),
          latency_rss_mb_end: round(readRss(w.pid)?.rssMb ?? NaN),
          latency_other_cpu_cores: otherCores,
          latency_warnings: warnSummary(w),
          latency_recorder: recorderStats(w),
        },
      };
    });
  });
}

/**
 * results_per_s: start watch, then write 5,000 results (50 KB upload, upload
 * line, measurement line) as fast as possible; rate = 5,000 / (time of the
 * last `recorded` line - time the burst started). Afterwards the watch is
 * killed with SIGKILL and `status --json` must still count all 5,000
 * (journal replay): that checks "recorded" means durable.
 */
export async function burstPhase(ctx: PhaseCtx) {
  const z = sizes(ctx.quick);
  return withTempDir('burst', async (dir) => {
    const s = setup(dir);
    const w = await startWatch({ ws: s.ws, logdir: s.logdir, model: s.model, logFile: path.join(dir, 'burst.log'), nodeArgs: ctx.nodeArgs });
    try {
      await w.ready();
      await sleep(1000);
      ctx.progress(`burst: ${z.burst} results of ${z.burstBytes >> 10} KB`);
      const cpu0 = readCpuSeconds(w.pid)!;
      const other = new Contention();
      other.start(w.pid);
      w.sample();
      const keys: string[] = [];
      const t0 = Date.now();
      for (let i = 0; i < z.burst; i++) keys.push(s.writer.result(z.burstBytes).key);
      const tWritten = Date.now();
      await w.waitRecorded(keys);
      const tLast = Math.max(...keys.map((k) => w.recorded.get(k)!));
      const cpu1 = readCpuSeconds(w.pid)!;
      const otherCores = other.end(w.pid);
      const peak = Math.max(w.peakRssMb, readRss(w.pid)?.hwmMb ?? 0);
      // "recorded" must survive kill -9: kill now (before any clean checkpoint) and read it back.
      if (ctx.nodeArgs?.includes('--cpu-prof')) await w.stop();
      else await w.kill9();
      running.delete(w);
      const st = timeStatus(s.ws);
      const datasets = Number((st.report.artifacts as Record<string, number>).Dataset);
      const secs = (tLast - t0) / 1000;
      return {
        results_per_s: round(z.burst / secs),
        details: {
          burst_results: z.burst,
          burst_write_s: round((tWritten - t0) / 1000, 2),
          burst_total_s: round(secs, 2),
          burst_cpu_s_per_1k: round(((cpu1 - cpu0) / z.burst) * 1000, 2),
          burst_watch_cpu_cores: round((cpu1 - cpu0) / secs, 2),
          burst_other_cpu_cores: otherCores,
          burst_rss_mb_peak: round(peak),
          burst_datasets_after_kill9: datasets,
          burst_survives_kill9: datasets >= z.burst,
          burst_warnings: warnSummary(w),
          burst_recorder: recorderStats(w),
        },
      };
    } finally {
      await w.stop(); // also when it already exited: stops the log pump
      running.delete(w);
      s.writer.close();
    }
  });
}

function writeRandomFile(file: string, bytes: number): void {
  const fd = openSync(file, 'w');
  const chunk = Buffer.allocUnsafe(8 << 20);
  try {
    for (let done = 0; done < bytes; done += chunk.length) {
      randomFillSync(chunk);
      writeSync(fd, chunk, 0, Math.min(chunk.length, bytes - done));
    }
  } finally {
    closeSync(fd);
  }
}

/**
 * mb_per_s vs baseline_mb_per_s: 4 random files of 256 MB. Baseline, per
 * file: `md5sum f && cp f dst && sync dst` (sync FILE fsyncs it). cmf-sage:
 * the files are moved into uploads/ (rename, instant), then their 4 upload
 * lines are appended at once; time from the first line to the last
 * `recorded`. Both read the same files from the page cache (they were written
 * and synced just before), and both make a durable copy.
 */
export async function mbPhase(ctx: PhaseCtx) {
  const z = sizes(ctx.quick);
  return withTempDir('mb', async (dir) => {
    const s = setup(dir);
    const staging = path.join(dir, 'staging');
    const dst = path.join(dir, 'baseline-copy');
    mkdirSync(staging);
    mkdirSync(dst);
    ctx.progress(`mb: writing ${z.bigFiles} x ${z.bigBytes >> 20} MB`);
    const files: string[] = [];
    for (let i = 0; i < z.bigFiles; i++) {
      const f = path.join(staging, `big${i}.bin`);
      writeRandomFile(f, z.bigBytes);
      files.push(f);
    }
    spawnSync('sync');
    const total = files.reduce((a, f) => a + statSync(f).size, 0);
    const mb = total / 2 ** 20;
    // Baseline: the same machine's md5sum + cp + fsync of the copy.
    let baseMs = 0;
    const bc = new Contention();
    bc.start();
    for (const f of files) {
      const t = performance.now();
      const r = spawnSync('sh', ['-c', 'md5sum "$1" >/dev/null && cp "$1" "$2" && sync "$2"', 'sh', f, path.join(dst, path.basename(f))]);
      baseMs += performance.now() - t;
      if (r.status !== 0) throw new Error(`baseline failed: ${r.stderr}`);
    }
    const baseOther = bc.end();
    rmSync(dst, { recursive: true, force: true });
    spawnSync('sync');
    ctx.progress('mb: cmf-sage');
    return withWatch(ctx, s, 'mb', async (w) => {
      await sleep(500);
      const placed = files.map((f) => {
        const r = s.writer.reserve();
        renameSync(f, r.abs);
        return r;
      });
      await sleep(1500); // let the watcher see the renames and go quiet again
      const cpu0 = readCpuSeconds(w.pid)!;
      const other = new Contention();
      other.start(w.pid);
      const t0 = Date.now();
      for (const p of placed) s.writer.announce(p.ns, p.key, p.abs, false);
      await w.waitRecorded(placed.map((p) => p.key), 300_000);
      const tLast = Math.max(...placed.map((p) => w.recorded.get(p.key)!));
      const cpu1 = readCpuSeconds(w.pid)!;
      const otherCores = other.end(w.pid);
      const cmfMs = tLast - t0;
      const rate = mb / (cmfMs / 1000);
      const base = mb / (baseMs / 1000);
      return {
        mb_per_s: round(rate),
        baseline_mb_per_s: round(base),
        mb_ratio: round(rate / base, 2),
        details: {
          mb_total: mb,
          mb_cmf_s: round(cmfMs / 1000, 2),
          mb_baseline_s: round(baseMs / 1000, 2),
          mb_cmf_cpu_s: round(cpu1 - cpu0, 2),
          mb_other_cpu_cores: otherCores,
          mb_baseline_other_cpu_cores: baseOther,
          mb_rss_mb_peak: round(Math.max(w.peakRssMb, readRss(w.pid)?.hwmMb ?? 0)),
          mb_warnings: warnSummary(w),
          mb_recorder: recorderStats(w),
        },
      };
    });
  });
}

/**
 * rss_mb_idle, rss_mb_peak_100k, cpu_s_per_1k, status_ms,
 * mlmd_bytes_per_result: one continuous watch run recording 100k results
 * (4 KB uploads + a measurement each), fed as fast as watch keeps up with at
 * most ~1,000 results waiting (batches of 500), as a busy plugin would.
 * RSS: VmRSS every 200 ms plus VmHWM at the end. CPU: utime+stime over the
 * feed. Then SIGTERM (clean stop), `status --json` x3, and the mlmd size.
 */
export async function scalePhase(ctx: PhaseCtx) {
  const z = sizes(ctx.quick);
  return withTempDir('scale', async (dir) => {
    const s = setup(dir);
    const w = await startWatch({ ws: s.ws, logdir: s.logdir, model: s.model, logFile: path.join(dir, 'scale.log'), nodeArgs: ctx.nodeArgs });
    try {
      await w.ready();
      w.sample();
      await sleep(z.idleMs);
      const idle = median(w.samples.map((x) => x.rssMb));
      const idleHwm = readRss(w.pid)?.hwmMb ?? NaN;
      const N = z.scale;
      ctx.progress(`scale: ${N} results of ${z.scaleBytes >> 10} KB`);
      const cpu0 = readCpuSeconds(w.pid)!;
      const other = new Contention();
      other.start(w.pid);
      const t0 = Date.now();
      let sent = 0;
      const curve: { results: number; s: number; rss_mb: number; cpu_s: number }[] = [];
      let nextMark = N / 10;
      let swaps = 0;
      let lastProgress = Date.now();
      let lastCount = 0;
      while (w.recorded.size < N) {
        w.log.pump();
        const have = w.recorded.size;
        if (have !== lastCount) {
          lastCount = have;
          lastProgress = Date.now();
        }
        if (!w.alive) throw new Error(`watch exited during the scale run\n${w.tail()}`);
        if (Date.now() - lastProgress > 180_000) throw new Error(`scale: no progress for 180 s at ${have}\n${w.tail()}`);
        while (have >= nextMark && nextMark <= N) {
          const r = readRss(w.pid);
          curve.push({ results: nextMark, s: round((Date.now() - t0) / 1000, 1), rss_mb: round(r?.rssMb ?? NaN), cpu_s: round(readCpuSeconds(w.pid)! - cpu0, 1) });
          ctx.progress(`scale: ${nextMark} recorded, ${round((Date.now() - t0) / 1000)} s, rss ${round(r?.rssMb ?? NaN)} MB`);
          nextMark += N / 10;
        }
        // The model is retrained twice (atomic replace, as a trainer would
        // install it): issue 5's queries then sort three versions.
        if (swaps < 2 && sent >= ((swaps + 1) * N) / 3) {
          swaps++;
          writeFileSync(`${s.model}.new`, randomBytes(4 << 20));
          renameSync(`${s.model}.new`, s.model);
        }
        if (sent < N && sent - have < 1000) {
          const batch = Math.min(500, N - sent);
          for (let i = 0; i < batch; i++) s.writer.result(z.scaleBytes);
          sent += batch;
        } else {
          await sleep(20);
        }
      }
      const tEnd = Date.now();
      const cpu1 = readCpuSeconds(w.pid)!;
      const otherCores = other.end(w.pid);
      const rss = readRss(w.pid);
      const peak = Math.max(w.peakRssMb, rss?.hwmMb ?? 0);
      ctx.progress('scale: stopping watch');
      const tStop = Date.now();
      const stopped = await w.stop(300_000);
      running.delete(w);
      const stopMs = Date.now() - tStop;
      const statusMs: number[] = [];
      let report: Record<string, unknown> = {};
      for (let i = 0; i < 3; i++) {
        const r = timeStatus(s.ws);
        statusMs.push(r.ms);
        report = r.report;
      }
      // Issue 5's query over the same 100k workspace (live mlmd + every segment), 3x each.
      const query = (argv: string[]) => {
        const ms: number[] = [];
        let rows = 0;
        for (let i = 0; i < 3; i++) {
          const r = timeCommand([...argv, '--workspace', s.ws, '--json']);
          ms.push(r.ms);
          rows = Number(r.report.count ?? (r.report.models as unknown[] | undefined)?.length ?? NaN);
        }
        return { ms: round(median(ms)), all: ms.map((x) => round(x)), rows };
      };
      const latest = query(['results', '--model', 'latest']);
      const everything = query(['results']);
      const models = query(['models']);
      // The lineage on disk: the live mlmd plus sealed segments' mlmd files (if the segment policy made any).
      const liveBytes = statSync(path.join(s.ws, 'mlmd')).size;
      const segDir = path.join(s.ws, '.cmf-sage', 'segments');
      const segFiles = existsSync(segDir)
        ? readdirSync(segDir).filter((n) => !n.startsWith('.')).map((n) => path.join(segDir, n, 'mlmd')).filter((f) => existsSync(f))
        : [];
      const segBytes = segFiles.reduce((a, f) => a + statSync(f).size, 0);
      const mlmdBytes = liveBytes + segBytes;
      const datasets = Number((report.artifacts as Record<string, number>).Dataset);
      return {
        rss_mb_idle: round(idle),
        rss_mb_peak_100k: round(peak),
        cpu_s_per_1k: round(((cpu1 - cpu0) / N) * 1000, 2),
        status_ms: round(median(statusMs)),
        mlmd_bytes_per_result: Math.round(mlmdBytes / N),
        results_latest_ms_100k: latest.ms,
        details: {
          query_results_latest_ms_all: latest.all,
          query_results_latest_rows: latest.rows,
          query_results_all_ms: everything.ms,
          query_results_all_rows: everything.rows,
          query_models_ms: models.ms,
          query_models_rows: models.rows,
          scale_results: N,
          scale_bytes_each: z.scaleBytes,
          scale_s: round((tEnd - t0) / 1000, 1),
          scale_results_per_s: round(N / ((tEnd - t0) / 1000)),
          scale_watch_cpu_cores: round((cpu1 - cpu0) / ((tEnd - t0) / 1000), 2),
          scale_other_cpu_cores: otherCores,
          scale_rss_mb_end: round(rss?.rssMb ?? NaN),
          scale_rss_mb_peak_sampled: round(w.peakRssMb),
          scale_rss_mb_hwm: round(rss?.hwmMb ?? NaN),
          scale_rss_mb_idle_hwm: round(idleHwm),
          scale_curve: curve,
          scale_stop_ms: stopMs,
          scale_stop_killed: stopped.killed,
          scale_mlmd_bytes: mlmdBytes,
          scale_live_mlmd_bytes: liveBytes,
          scale_segments: segFiles.length,
          scale_segment_mlmd_bytes: segBytes,
          scale_status_ms_all: statusMs.map((x) => round(x)),
          scale_status_datasets: datasets,
          scale_status_metrics: Number((report.artifacts as Record<string, number>).Metrics),
          scale_status_segments: report.segments,
          scale_warnings: warnSummary(w),
          scale_recorder: recorderStats(w),
        },
      };
    } finally {
      await w.stop(); // also when it already exited: stops the log pump
      running.delete(w);
      s.writer.close();
    }
  });
}
