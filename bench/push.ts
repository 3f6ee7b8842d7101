/**
 * Benchmarks of `push --to cmf-server` (issue 7), for `npm run bench`:
 *
 * - push_mb_per_s: pushArtifacts to a real nginx WebDAV remote (Bearer
 *   token, as `cmf init osdfremote` sets one up), 4 objects in flight;
 * - curl_mb_per_s: `curl -T` of the same files to the same nginx in the same
 *   run, `--parallel --parallel-max 4` (the same concurrency);
 * - push_mb_ratio = push / curl (target >= 0.8); the runs alternate and each
 *   figure is the median, so a slow moment of the machine hits both;
 * - metadata_push_ms_10k: a 10,000-result segment's metadata, from the open
 *   MLMD to the server's answer: dumpToJson + POST /api/mlmd_push to
 *   CmfServerContractDouble (which parses and merges it, as the server
 *   would, before answering).
 *
 * nginx writes into /dev/shm when it exists, so the figures compare the two
 * clients rather than the disk.
 *
 *   node dist/bench/push.js [--json]
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { silentLogger } from '../src/log.js';
import { loadMlmd, MlmdStore } from '../src/mlmd/index.js';
import { pushArtifacts } from '../src/server/artifacts.js';
import { pushMetadata } from '../src/server/metadata.js';
import { dumpToJson } from '../src/server/payload.js';
import { CmfServerContractDouble } from '../test/cmf-server-contract-double.js';
import { writeBulkMlmd } from '../test/query-bulk-mlmd.js';
import { NginxDav } from '../test/server-harness.js';

const execFileP = promisify(execFile);

export interface PushBenchResult {
  push_mb_per_s: number;
  curl_mb_per_s: number;
  push_mb_ratio: number;
  metadata_push_ms_10k: number;
}

export interface PushBenchOptions {
  /** Objects pushed per run (default 8). */
  files?: number;
  /** Size of each (default 32 MiB). */
  fileMb?: number;
  /** Alternating runs of each client (default 5). */
  runs?: number;
  /** Uploads in flight, for both clients (default 4). */
  concurrency?: number;
  /** Where nginx and the files live (default /dev/shm if present, else the temp dir). */
  base?: string;
  /** Runs of the 10k metadata push (default 3). */
  metadataRuns?: number;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

export async function pushBench(o: PushBenchOptions = {}): Promise<PushBenchResult> {
  const base = o.base ?? (existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir());
  const files = o.files ?? 8;
  const size = (o.fileMb ?? 32) << 20;
  const runs = o.runs ?? 5;
  const conc = o.concurrency ?? 4;
  const token = randomBytes(12).toString('hex');
  const nginx = new NginxDav({ token, base });
  const ws = await fsp.mkdtemp(path.join(base, 'cmf-sage-bench-push-'));
  try {
    await nginx.start();
    const objects: string[] = [];
    for (let i = 0; i < files; i++) {
      const buf = randomBytes(size);
      const md5 = createHash('md5').update(buf).digest('hex');
      const dir = path.join(ws, '.dvc', 'cache', 'files', 'md5', md5.slice(0, 2));
      await fsp.mkdir(dir, { recursive: true });
      await fsp.writeFile(path.join(dir, md5.slice(2)), buf);
      await fsp.chmod(path.join(dir, md5.slice(2)), 0o444); // as the cache leaves them
      objects.push(md5);
    }
    const total = files * size;
    const remote = { name: 'osdf', url: nginx.remoteUrl, options: { method: 'PUT' } };
    const curlArgs = ['-sS', '--no-progress-meter', '--fail', '--parallel', '--parallel-max', String(conc), '-H', `Authorization: Bearer ${token}`];
    for (const m of objects) curlArgs.push('-T', path.join(ws, '.dvc', 'cache', 'files', 'md5', m.slice(0, 2), m.slice(2)), `${nginx.remoteUrl}/files/md5/${m.slice(0, 2)}/${m.slice(2)}`);
    const push: number[] = [];
    const curl: number[] = [];
    // One unmeasured round of each first (JIT, connections, nginx's first writes), as the git figures have.
    for (let r = -1; r < runs; r++) {
      const measured = r >= 0;
      await nginx.clear();
      let t = performance.now();
      const res = await pushArtifacts({ workspace: ws, objects, remote, token, concurrency: conc, logger: silentLogger() });
      if (res.sent !== files) throw new Error(`push sent ${res.sent} of ${files}`);
      if (measured) push.push(total / 1e6 / ((performance.now() - t) / 1000));
      await nginx.clear();
      t = performance.now();
      await execFileP('curl', curlArgs);
      if (measured) curl.push(total / 1e6 / ((performance.now() - t) / 1000));
    }
    const pushMb = median(push);
    const curlMb = median(curl);
    return {
      push_mb_per_s: round(pushMb),
      curl_mb_per_s: round(curlMb),
      push_mb_ratio: round(pushMb / curlMb, 2),
      metadata_push_ms_10k: round(await metadataBench(o.metadataRuns ?? 3), 0),
    };
  } finally {
    await nginx.stop();
    await fsp.rm(ws, { recursive: true, force: true });
  }
}

/** Median ms from an open 10,000-result MLMD to cmf-server's (double's) answer. */
async function metadataBench(runs: number): Promise<number> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'cmf-sage-bench-meta-'));
  const server = new CmfServerContractDouble();
  try {
    const bulk = await writeBulkMlmd({ workspace: dir, results: 10_000, executions: 20, measurementsPerExecution: 10 });
    const url = await server.start();
    const times: number[] = [];
    for (let r = 0; r < runs; r++) {
      const store = new MlmdStore((await loadMlmd(bulk.mlmd)).db);
      try {
        server.executions.clear(); // each run is a first delivery
        const t = performance.now();
        const payload = dumpToJson(store, 'bench');
        const status = await pushMetadata({ server: url, pipeline: 'bench', payload, logger: silentLogger() });
        times.push(performance.now() - t);
        if (status !== 'success') throw new Error(`cmf-server double answered ${status}`);
      } finally {
        store.close();
      }
    }
    return median(times);
  } finally {
    await server.stop();
    await fsp.rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  pushBench().then(
    (r) => process.stdout.write((process.argv.includes('--json') ? JSON.stringify(r) : Object.entries(r).map(([k, v]) => `${k.padEnd(22)} ${v}`).join('\n')) + '\n'),
    (err) => {
      process.stderr.write(`bench/push: ${(err as Error).stack ?? err}\n`);
      process.exit(1);
    },
  );
}
