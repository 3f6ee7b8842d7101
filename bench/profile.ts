/**
 * Summarise V8 .cpuprofile files (node --cpu-prof): top functions by self
 * time, and self time grouped by source file (package or src/ module).
 *
 *   node dist/bench/profile.js [--top N] [--inclusive fn1,fn2] [--callers fn1,fn2 [--depth N]] FILE.cpuprofile...
 *
 * Percentages are of the busy time (all samples except "(idle)").
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: Node[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

function shortUrl(url: string): string {
  if (!url) return '';
  const u = url.replace(/^file:\/\//, '');
  const nm = u.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = u.slice(nm + 14).split('/');
    const pkg = rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
    return `${pkg}:${rest.slice(rest[0]!.startsWith('@') ? 2 : 1).join('/')}`;
  }
  const d = u.indexOf('/dist/');
  if (d >= 0) return u.slice(d + 6);
  if (u.startsWith('node:')) return u;
  return path.basename(u);
}

function group(url: string): string {
  const s = shortUrl(url);
  if (!s) return '(native/vm)';
  const c = s.indexOf(':');
  if (c > 0 && !s.startsWith('node:')) return s.slice(0, c); // a package
  return s;
}

export function summarise(file: string, top = 25): string {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) {
    const id = p.samples[i]!;
    self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0));
  }
  const fn = new Map<string, number>();
  const grp = new Map<string, number>();
  let busy = 0;
  let idle = 0;
  for (const [id, us] of self) {
    const n = byId.get(id)!;
    const name = n.callFrame.functionName || '(anonymous)';
    if (name === '(idle)') {
      idle += us;
      continue;
    }
    busy += us;
    const key = n.callFrame.url ? `${name}  ${shortUrl(n.callFrame.url)}:${n.callFrame.lineNumber + 1}` : name;
    fn.set(key, (fn.get(key) ?? 0) + us);
    const g = n.callFrame.url ? group(n.callFrame.url) : name;
    grp.set(g, (grp.get(g) ?? 0) + us);
  }
  const pct = (us: number) => `${((100 * us) / busy).toFixed(1).padStart(5)}%`;
  const ms = (us: number) => `${(us / 1000).toFixed(0).padStart(7)} ms`;
  const lines = [
    `${path.basename(file)}: wall ${((p.endTime - p.startTime) / 1e6).toFixed(1)} s, busy ${(busy / 1e6).toFixed(1)} s, idle ${(idle / 1e6).toFixed(1)} s`,
    '',
    'top functions by self time (% of busy):',
  ];
  for (const [k, us] of [...fn].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`  ${pct(us)} ${ms(us)}  ${k}`);
  lines.push('', 'self time by file / package:');
  for (const [k, us] of [...grp].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`  ${pct(us)} ${ms(us)}  ${k}`);
  return lines.join('\n') + '\n';
}

/** Inclusive (total) time of the functions whose name matches, for "where does the time go" questions. */
export function inclusive(file: string, names: string[]): Map<string, number> {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) self.set(p.samples[i]!, (self.get(p.samples[i]!) ?? 0) + (p.timeDeltas[i] ?? 0));
  const out = new Map<string, number>(names.map((n) => [n, 0]));
  for (const [id, us] of self) {
    if (byId.get(id)!.callFrame.functionName === '(idle)') continue;
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const fnName = byId.get(cur)!.callFrame.functionName;
      if (out.has(fnName) && !seen.has(fnName)) {
        seen.add(fnName);
        out.set(fnName, out.get(fnName)! + us);
      }
    }
  }
  return out;
}

/**
 * Who calls `fnName` (e.g. the native "lstat"): its self time grouped by the
 * nearest caller frame that is application or package code (not node:internal).
 */
export function callers(file: string, fnName: string, depth = 1): [string, number][] {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) self.set(p.samples[i]!, (self.get(p.samples[i]!) ?? 0) + (p.timeDeltas[i] ?? 0));
  const out = new Map<string, number>();
  for (const [id, us] of self) {
    if (byId.get(id)!.callFrame.functionName !== fnName) continue;
    const chain: string[] = [];
    for (let cur = parent.get(id); cur !== undefined && chain.length < depth; cur = parent.get(cur)) {
      const cf = byId.get(cur)!.callFrame;
      if (!cf.url || cf.url.startsWith('node:')) continue;
      chain.push(`${cf.functionName || '(anonymous)'} ${shortUrl(cf.url)}:${cf.lineNumber + 1}`);
    }
    const key = chain.join(' <- ') || '(no app frame)';
    out.set(key, (out.get(key) ?? 0) + us);
  }
  return [...out].sort((a, b) => b[1] - a[1]);
}

function main(): void {
  const argv = process.argv.slice(2);
  let top = 25;
  const files: string[] = [];
  let incl: string[] = [];
  const who: string[] = [];
  let depth = 1;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--top') top = Number(argv[++i]);
    else if (argv[i] === '--callers') who.push(...(argv[++i] ?? '').split(','));
    else if (argv[i] === '--depth') depth = Number(argv[++i]);
    else if (argv[i] === '--inclusive') incl = (argv[++i] ?? '').split(',');
    else files.push(argv[i]!);
  }
  if (files.length === 0) {
    process.stderr.write('usage: node dist/bench/profile.js [--top N] [--inclusive fn1,fn2] [--callers fn1,fn2 [--depth N]] FILE.cpuprofile...\n');
    process.exit(2);
  }
  for (const f of files) {
    process.stdout.write(summarise(f, top));
    if (incl.length) {
      const p = JSON.parse(readFileSync(f, 'utf8')) as Profile;
      let busy = 0;
      const byId = new Map(p.nodes.map((n) => [n.id, n]));
      for (let i = 0; i < p.samples.length; i++) if (byId.get(p.samples[i]!)!.callFrame.functionName !== '(idle)') busy += p.timeDeltas[i] ?? 0;
      process.stdout.write('\ninclusive time (% of busy):\n');
      for (const [k, us] of inclusive(f, incl)) process.stdout.write(`  ${((100 * us) / busy).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(7)} ms  ${k}\n`);
    }
    for (const fnName of who) {
      process.stdout.write(`\ncallers of ${fnName} (self ms):\n`);
      for (const [k, us] of callers(f, fnName, depth).slice(0, 12)) process.stdout.write(`  ${(us / 1000).toFixed(0).padStart(7)} ms  ${k}\n`);
    }
    process.stdout.write('\n');
  }
}

if (process.argv[1] && import.meta.url.endsWith(path.basename(process.argv[1]))) main();
