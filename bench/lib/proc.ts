import { spawn, spawnSync, execFileSync, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, readSync, utimesSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sleep } from './stats.js';

/** The repository root (dist/bench/lib/proc.js -> ../../..). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const BIN = path.join(ROOT, 'bin', 'cmf-sage');

let clkTck: number | undefined;
export function clockTicks(): number {
  if (clkTck === undefined) {
    try {
      clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clkTck = 100;
    }
  }
  return clkTck;
}

/** VmRSS and VmHWM (peak) of a process in MB (MiB), or undefined once it is gone. */
export function readRss(pid: number): { rssMb: number; hwmMb: number } | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)\\s+kB`, 'm').exec(s)?.[1] ?? NaN);
    return { rssMb: kb('VmRSS') / 1024, hwmMb: kb('VmHWM') / 1024 };
  } catch {
    return undefined;
  }
}

/** user+system CPU seconds a process has used so far (/proc/<pid>/stat fields 14 and 15). */
export function readCpuSeconds(pid: number): number | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = s.slice(s.lastIndexOf(')') + 2).split(' ');
    // rest[0] is field 3 (state), so field n is rest[n - 3].
    return (Number(rest[11]) + Number(rest[12])) / clockTicks();
  } catch {
    return undefined;
  }
}

/** CPU seconds of this process plus its reaped children (utime, stime, cutime, cstime). */
export function selfAndChildrenCpuSeconds(): number {
  try {
    const s = readFileSync('/proc/self/stat', 'utf8');
    const rest = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12]) + Number(rest[13]) + Number(rest[14])) / clockTicks();
  } catch {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  }
}

/**
 * Machine-wide busy CPU seconds (all cores) from /proc/stat, to tell how much
 * of the machine other programs used during a phase (this is a shared box).
 */
export function machineBusySeconds(): number {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal
    const busy = (f[0] ?? 0) + (f[1] ?? 0) + (f[2] ?? 0) + (f[5] ?? 0) + (f[6] ?? 0) + (f[7] ?? 0);
    return busy / clockTicks();
  } catch {
    return NaN;
  }
}

/**
 * Measures what else ran on the machine between start() and end(): busy
 * core-seconds of everything except the watch process and this benchmark,
 * divided by the wall time (= average cores taken by other programs).
 */
export class Contention {
  private t0 = 0;
  private busy0 = 0;
  private self0 = 0;
  private watch0 = 0;
  start(watchPid?: number): void {
    this.t0 = Date.now();
    this.busy0 = machineBusySeconds();
    this.self0 = selfAndChildrenCpuSeconds();
    this.watch0 = watchPid ? (readCpuSeconds(watchPid) ?? 0) : 0;
  }
  end(watchPid?: number): number {
    const wall = (Date.now() - this.t0) / 1000;
    const self = selfAndChildrenCpuSeconds() - this.self0;
    const watch = watchPid ? (readCpuSeconds(watchPid) ?? this.watch0) - this.watch0 : 0;
    const other = machineBusySeconds() - this.busy0 - self - watch;
    return Math.round((Math.max(0, other) / wall) * 100) / 100;
  }
}

export interface LogLine {
  level?: number;
  time: number;
  msg: string;
  [k: string]: unknown;
}

/**
 * Follows a pino JSON log file line by line. The watch process's stderr goes
 * to a file rather than a pipe so that it can never block on a full pipe while
 * the benchmark is busy writing a burst (pino writes synchronously).
 */
export class LogTail {
  private fd: number;
  private offset = 0;
  private rest = '';
  private readonly buf = Buffer.allocUnsafe(1 << 20);
  /** Every line except `recorded <key>` ones (there can be 100k of those; they go to listeners only). */
  readonly lines: LogLine[] = [];
  /** The last lines of any kind, for error messages. */
  readonly recent: string[] = [];
  /** Lines that are not JSON (e.g. the CLI's one-line error). */
  readonly other: string[] = [];
  /** Lines at warn level or above. */
  readonly warnings: LogLine[] = [];
  private listeners: ((l: LogLine) => void)[] = [];

  constructor(readonly file: string) {
    this.fd = openSync(file, 'r');
  }

  on(fn: (l: LogLine) => void): void {
    this.listeners.push(fn);
  }

  /** Read whatever was appended since the last call. */
  pump(): void {
    for (;;) {
      const n = readSync(this.fd, this.buf, 0, this.buf.length, this.offset);
      if (n <= 0) break;
      this.offset += n;
      const text = this.rest + this.buf.toString('utf8', 0, n);
      const parts = text.split('\n');
      this.rest = parts.pop() ?? '';
      for (const p of parts) {
        if (!p) continue;
        this.recent.push(p);
        if (this.recent.length > 40) this.recent.splice(0, this.recent.length - 20);
        let l: LogLine;
        try {
          l = JSON.parse(p) as LogLine;
        } catch {
          this.other.push(p);
          continue;
        }
        if (!(typeof l.msg === 'string' && l.msg.startsWith('recorded '))) this.lines.push(l);
        if ((l.level ?? 0) >= 40 && this.warnings.length < 1000) this.warnings.push(l);
        for (const fn of this.listeners) fn(l);
      }
    }
  }

  close(): void {
    this.pump();
    closeSync(this.fd);
  }
}

export interface WatchOptions {
  ws: string;
  logdir: string;
  model: string;
  /** Where the stderr log goes. */
  logFile: string;
  extraArgs?: string[];
  /** Extra node flags for the child, before the script (e.g. --cpu-prof --cpu-prof-dir=DIR; NODE_OPTIONS refuses --cpu-prof). */
  nodeArgs?: string[];
  level?: string;
}

/** Log level of the watch processes: info (as measured), or debug for diagnosis (--debug-log). */
export let watchLogLevel = 'info';
export function setWatchLogLevel(level: string): void {
  watchLogLevel = level;
}

/** A running `cmf-sage watch` with its log, RSS/CPU sampling and a safe stop. */
export class WatchProc {
  readonly child: ChildProcess;
  readonly log: LogTail;
  readonly pid: number;
  private exited: Promise<number | null>;
  private exitCode: number | null | undefined;
  private timer: NodeJS.Timeout | undefined;
  private pumpTimer: NodeJS.Timeout;
  /** Largest VmRSS seen by the sampler (MB). */
  peakRssMb = 0;
  samples: { t: number; rssMb: number }[] = [];
  recorded = new Map<string, number>();
  /** Sums of the recorder's own timing fields (debug lines 'batch recorded', 'checkpoint') and event counts. */
  readonly stats = {
    batches: 0,
    batchEntries: 0,
    batch: {} as Record<string, number>,
    checkpoints: 0,
    checkpoint: {} as Record<string, number>,
    checkpointMax: 0,
    executionsClosed: 0,
    segmentsSealed: 0,
  };

  private constructor(child: ChildProcess, log: LogTail) {
    this.child = child;
    this.pid = child.pid!;
    this.log = log;
    this.exited = new Promise((resolve) => child.once('exit', (code, sig) => {
      this.exitCode = code ?? (sig ? -1 : null);
      resolve(this.exitCode);
    }));
    log.on((l) => {
      if (typeof l.msg !== 'string') return;
      if (l.msg.startsWith('recorded ')) {
        this.recorded.set(l.msg.slice(9), l.time);
        return;
      }
      const st = this.stats;
      const addMs = (into: Record<string, number>) => {
        for (const [k, v] of Object.entries(l)) if (/ms$/i.test(k) && typeof v === 'number') into[k] = (into[k] ?? 0) + v;
      };
      if (l.msg === 'batch recorded') {
        st.batches++;
        st.batchEntries += Number(l.entries ?? 0);
        addMs(st.batch);
      } else if (l.msg === 'checkpoint') {
        st.checkpoints++;
        addMs(st.checkpoint);
        if (typeof l.ms === 'number' && l.ms > st.checkpointMax) st.checkpointMax = l.ms;
      } else if (l.msg === 'execution closed') st.executionsClosed++;
      else if (l.msg === 'segment sealed') st.segmentsSealed++;
    });
    this.pumpTimer = setInterval(() => log.pump(), 20);
    this.pumpTimer.unref();
  }

  static start(o: WatchOptions): WatchProc {
    // The model must look settled already (old mtime), so start-up does not wait --settle for it.
    const old = new Date(Date.now() - 3600_000);
    utimesSync(o.model, old, old);
    const errFd = openSync(o.logFile, 'w');
    const args = [
      ...(o.nodeArgs ?? []),
      BIN, 'watch',
      '--pipeline', 'bench',
      '--model', o.model,
      '--results', o.logdir,
      '--workspace', o.ws,
      '--source', 'pywaggle',
      ...(o.extraArgs ?? []),
    ];
    const env: NodeJS.ProcessEnv = { ...process.env, CMF_SAGE_LOG_LEVEL: o.level ?? watchLogLevel };
    const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'ignore', errFd] });
    closeSync(errFd);
    return new WatchProc(child, new LogTail(o.logFile));
  }

  get alive(): boolean {
    return this.exitCode === undefined;
  }

  /** Sample VmRSS every `ms` (default 200 ms). */
  sample(ms = 200): void {
    const tick = () => {
      const r = readRss(this.pid);
      if (!r) return;
      this.samples.push({ t: Date.now(), rssMb: r.rssMb });
      if (r.rssMb > this.peakRssMb) this.peakRssMb = r.rssMb;
    };
    tick();
    this.timer = setInterval(tick, ms);
    this.timer.unref();
  }

  stopSampling(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Resolve with the first log line matching `pred`, or throw after `timeoutMs` or if the process exits. */
  async waitFor(pred: (l: LogLine) => boolean, timeoutMs: number, what: string): Promise<LogLine> {
    const deadline = Date.now() + timeoutMs;
    let seen = 0;
    for (;;) {
      this.log.pump();
      for (; seen < this.log.lines.length; seen++) if (pred(this.log.lines[seen]!)) return this.log.lines[seen]!;
      if (!this.alive) throw new Error(`watch exited (${this.exitCode}) while waiting for ${what}\n${this.tail()}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${this.tail()}`);
      await sleep(20);
    }
  }

  async ready(timeoutMs = 60_000): Promise<LogLine> {
    return this.waitFor((l) => l.msg === 'watching', timeoutMs, '"watching"');
  }

  /**
   * Wait until every key is recorded. Fails if nothing new is recorded for
   * `stallMs` or the process exits.
   */
  async waitRecorded(keys: Iterable<string>, stallMs = 120_000): Promise<void> {
    const want = [...keys];
    let last = -1;
    let lastChange = Date.now();
    for (;;) {
      this.log.pump();
      let missing = 0;
      for (const k of want) if (!this.recorded.has(k)) missing++;
      if (missing === 0) return;
      if (missing !== last) {
        last = missing;
        lastChange = Date.now();
      }
      if (!this.alive) throw new Error(`watch exited (${this.exitCode}) with ${missing} results unrecorded\n${this.tail()}`);
      if (Date.now() - lastChange > stallMs) throw new Error(`no progress for ${stallMs} ms; ${missing} results unrecorded\n${this.tail()}`);
      await sleep(20);
    }
  }

  /** Wait until `n` distinct results are recorded (cheap check for big runs). */
  async waitCount(n: number, stallMs = 120_000): Promise<void> {
    let last = -1;
    let lastChange = Date.now();
    for (;;) {
      this.log.pump();
      const have = this.recorded.size;
      if (have >= n) return;
      if (have !== last) {
        last = have;
        lastChange = Date.now();
      }
      if (!this.alive) throw new Error(`watch exited (${this.exitCode}) with ${n - have} results unrecorded\n${this.tail()}`);
      if (Date.now() - lastChange > stallMs) throw new Error(`no progress for ${stallMs} ms; ${n - have} results unrecorded\n${this.tail()}`);
      await sleep(20);
    }
  }

  /** The recorder's own timings, rounded, for the details output. */
  statsSummary(): Record<string, unknown> {
    const r = (o: Record<string, number>) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, Math.round(v)]));
    const st = this.stats;
    return {
      batches: st.batches,
      batch_entries: st.batchEntries,
      batch_ms_sum: r(st.batch),
      checkpoints: st.checkpoints,
      checkpoint_ms_sum: r(st.checkpoint),
      checkpoint_ms_max: Math.round(st.checkpointMax),
      executions_closed: st.executionsClosed,
      segments_sealed: st.segmentsSealed,
    };
  }

  /** The last lines of the log, for error messages. */
  tail(n = 15): string {
    return this.log.recent.slice(-n).join('\n');
  }

  /** SIGTERM (clean shutdown: close execution, checkpoint), SIGKILL after `timeoutMs`. */
  async stop(timeoutMs = 60_000): Promise<{ code: number | null; killed: boolean }> {
    this.stopSampling();
    if (!this.alive) {
      this.finish();
      return { code: this.exitCode ?? null, killed: false };
    }
    this.child.kill('SIGTERM');
    const t = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), timeoutMs).unref());
    const res = await Promise.race([this.exited, t]);
    let killed = false;
    if (res === 'timeout') {
      this.child.kill('SIGKILL');
      killed = true;
      await this.exited;
    }
    this.finish();
    return { code: this.exitCode ?? null, killed };
  }

  /** kill -9 now (crash test). */
  async kill9(): Promise<void> {
    this.stopSampling();
    if (this.alive) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
    this.finish();
  }

  private finish(): void {
    clearInterval(this.pumpTimer);
    try {
      this.log.close();
    } catch {
      // already closed
    }
  }
}

/** Run `cmf-sage status --json` and time it (wall clock, process start to exit). */
export function timeStatus(ws: string): { ms: number; report: Record<string, unknown> } {
  return timeCommand(['status', '--json', '--workspace', ws]);
}

/** Run a `cmf-sage` command that prints one JSON object, and time it (wall clock, process start to exit). */
export function timeCommand(argv: string[]): { ms: number; report: Record<string, unknown> } {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [BIN, ...argv], {
    cwd: ROOT,
    encoding: 'utf8',
    maxBuffer: 1 << 30,
    env: { ...process.env, CMF_SAGE_LOG_LEVEL: 'warn' },
  });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${argv[0]} failed (${r.status}): ${r.stderr}`);
  return { ms, report: JSON.parse(r.stdout) as Record<string, unknown> };
}

/** Every watch process started, so the benchmark can stop them all on the way out. */
export const running = new Set<WatchProc>();

export async function startWatch(o: WatchOptions): Promise<WatchProc> {
  const w = WatchProc.start(o);
  running.add(w);
  return w;
}

export async function stopAll(): Promise<void> {
  for (const w of running) {
    await w.stop(15_000).catch(() => undefined);
    running.delete(w);
  }
}
