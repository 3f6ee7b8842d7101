/**
 * Median over several `run.js --out FILE` results, as a Markdown table with
 * targets and verdicts (what bench/README.md shows).
 *
 *   node dist/bench/summarize.js [--before a.json,b.json] after1.json after2.json after3.json
 */
import { readFileSync } from 'node:fs';
import { median, round } from './lib/stats.js';
import { KEYS, TARGETS, UNITS, verdict, type Key } from './keys.js';

interface Out {
  runs: Partial<Record<Key, number>>[];
  [k: string]: unknown;
}

function load(files: string[]): Partial<Record<Key, number>>[] {
  return files.flatMap((f) => (JSON.parse(readFileSync(f, 'utf8')) as Out).runs);
}

function med(runs: Partial<Record<Key, number>>[], k: Key): number | undefined {
  const vs = runs.map((r) => r[k]).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  return vs.length ? round(median(vs), k === 'mb_ratio' || k === 'push_mb_ratio' || k === 'cpu_s_per_1k' ? 2 : 1) : undefined;
}

function main(): void {
  const argv = process.argv.slice(2);
  let before: string[] = [];
  const after: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--before') before = (argv[++i] ?? '').split(',').filter(Boolean);
    else after.push(argv[i]!);
  }
  if (after.length === 0) {
    process.stderr.write('usage: node dist/bench/summarize.js [--before a.json,b.json] after1.json [after2.json ...]\n');
    process.exit(2);
  }
  const a = load(after);
  const b = before.length ? load(before) : [];
  const head = ['key', ...(b.length ? [`before (${b.length} run${b.length > 1 ? 's' : ''})`] : []), `median of ${a.length}`, 'runs', 'unit', 'target', 'verdict'];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const k of KEYS) {
    const v = med(a, k);
    if (v === undefined) continue;
    const t = TARGETS[k];
    const row = [
      `\`${k}\``,
      ...(b.length ? [String(med(b, k) ?? '-')] : []),
      `**${v}**`,
      a.map((r) => (r[k] === undefined ? '-' : String(r[k]))).join(' / '),
      UNITS[k] ?? '',
      t ? `${t.op === '<=' ? '≤' : '≥'} ${t.v}` : '',
      verdict(k, v),
    ];
    lines.push(`| ${row.join(' | ')} |`);
  }
  process.stdout.write(lines.join('\n') + '\n');
}

main();
