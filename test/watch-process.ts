import { spawn, type ChildProcess } from 'node:child_process';
import { CLI } from './helpers.js';

export interface LogLine {
  level: number;
  msg: string;
  time: number;
  [k: string]: unknown;
}

/** A continuous `cmf-sage watch` under test: its JSON log, waits, and a clean stop. */
export class WatchProcess {
  readonly logs: LogLine[] = [];
  readonly child: ChildProcess;
  private readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private waiters: (() => void)[] = [];
  stderrText = '';

  constructor(args: string[], env: Record<string, string> = {}) {
    this.child = spawn(process.execPath, [CLI, 'watch', ...args], {
      env: { ...process.env, CMF_SAGE_LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let buf = '';
    this.child.stderr!.on('data', (d: Buffer) => {
      this.stderrText += d.toString();
      buf += d.toString();
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try {
          this.logs.push(JSON.parse(line));
        } catch {
          this.logs.push({ level: 50, msg: line, time: Date.now() });
        }
      }
      for (const w of this.waiters.splice(0)) w();
    });
    this.exited = new Promise((r) => this.child.on('exit', (code, signal) => r({ code, signal })));
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Wait until a log line matches (or fail after timeoutMs). */
  async waitFor(pred: (l: LogLine) => boolean, timeoutMs = 20_000, what = 'log line'): Promise<LogLine> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.logs.find(pred);
      if (hit) return hit;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; log:\n${this.stderrText.slice(-2000)}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, 100);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  count(pred: (l: LogLine) => boolean): number {
    return this.logs.filter(pred).length;
  }

  async waitForRecorded(n: number, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.count((l) => l.msg.startsWith('recorded ')) < n) {
      if (Date.now() > deadline) throw new Error(`only ${this.count((l) => l.msg.startsWith('recorded '))}/${n} recorded; log:\n${this.stderrText.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** SIGTERM and wait: a clean stop must exit 0. */
  async stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    this.child.kill('SIGTERM');
    return this.exited;
  }

  async kill9(): Promise<void> {
    this.child.kill('SIGKILL');
    await this.exited;
  }

  wait() {
    return this.exited;
  }
}
