/** The figures issue 6 asks for, their units and targets. */
export const KEYS = [
  'latency_ms_p50',
  'latency_ms_p99',
  'results_per_s',
  'mb_per_s',
  'baseline_mb_per_s',
  'mb_ratio',
  'save_ms_1k',
  'save_ms_10k',
  'mlmd_bytes_per_result',
  'rss_mb_idle',
  'rss_mb_peak_100k',
  'cpu_s_per_1k',
  'git_ms_per_commit_1k',
  'git_ms_per_commit_10k',
  'git_cli_ms_per_commit_1k',
  'git_cli_ms_per_commit_10k',
  'status_ms',
  'results_latest_ms_100k',
  'push_mb_per_s',
  'curl_mb_per_s',
  'push_mb_ratio',
  'metadata_push_ms_10k',
] as const;
export type Key = (typeof KEYS)[number];

export interface Target {
  op: '<=' | '>=';
  v: number;
}
export const TARGETS: Partial<Record<Key, Target>> = {
  latency_ms_p99: { op: '<=', v: 100 },
  results_per_s: { op: '>=', v: 500 },
  mb_ratio: { op: '>=', v: 0.7 },
  save_ms_10k: { op: '<=', v: 100 },
  rss_mb_idle: { op: '<=', v: 80 },
  rss_mb_peak_100k: { op: '<=', v: 200 },
  cpu_s_per_1k: { op: '<=', v: 2 },
  status_ms: { op: '<=', v: 500 },
  results_latest_ms_100k: { op: '<=', v: 1000 },
  push_mb_ratio: { op: '>=', v: 0.8 },
};

export const UNITS: Partial<Record<Key, string>> = {
  latency_ms_p50: 'ms', latency_ms_p99: 'ms', results_per_s: 'results/s', mb_per_s: 'MB/s', baseline_mb_per_s: 'MB/s',
  mb_ratio: '', save_ms_1k: 'ms', save_ms_10k: 'ms', mlmd_bytes_per_result: 'B', rss_mb_idle: 'MB', rss_mb_peak_100k: 'MB',
  cpu_s_per_1k: 's', git_ms_per_commit_1k: 'ms', git_ms_per_commit_10k: 'ms', git_cli_ms_per_commit_1k: 'ms',
  git_cli_ms_per_commit_10k: 'ms', status_ms: 'ms', results_latest_ms_100k: 'ms', push_mb_per_s: 'MB/s', curl_mb_per_s: 'MB/s',
  push_mb_ratio: '', metadata_push_ms_10k: 'ms',
};

export function verdict(k: Key, v: number | undefined): string {
  const t = TARGETS[k];
  if (!t) return '';
  if (v === undefined || !Number.isFinite(v)) return 'n/a';
  return (t.op === '<=' ? v <= t.v : v >= t.v) ? 'pass' : 'MISS';
}

