// Generator of a large cmf-sage mlmd for benchmarks of the query commands
// (`results --model latest --json` over 100,000 results). Not a test itself:
// the benchmark script and test/query-bench.ts call writeBulkMlmd.
//
// It writes through the recorder's own Applier (journal entries → MLMD rows
// with cmflib's names and cmf-sage's custom properties), in large
// transactions, so the file has exactly the layout `watch` produces, minus
// git and DVC (which the queries never read).
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { loadMlmd, MlmdStore, saveMlmd } from '../src/mlmd/index.js';
import { Applier } from '../src/recorder/apply.js';
import type { Entry, OpenEntry } from '../src/recorder/entries.js';

export interface BulkMlmdOptions {
  /** Workspace folder to create; the mlmd is `<workspace>/mlmd`. */
  workspace: string;
  /** Result files (Dataset artifacts), spread evenly over the executions. Default 100,000. */
  results?: number;
  /** Executions (watch windows). Default 200. */
  executions?: number;
  /** Model versions; the model changes every executions/models windows. Default 3. */
  models?: number;
  /** Measurements (Metrics artifacts) per execution. Default 10. */
  measurementsPerExecution?: number;
  /** Time of the first result, ns. */
  startNs?: bigint;
}

export interface BulkMlmd {
  mlmd: string;
  /** Model md5s in the order they were used; the last one is `latest`. */
  models: string[];
  /** Results and measurements recorded under each model version, by md5. */
  perModel: Map<string, { results: number; measurements: number }>;
  results: number;
  measurements: number;
}

const md5 = (s: string) => createHash('md5').update(s).digest('hex');
const sha1 = (s: string) => createHash('sha1').update(s).digest('hex');

export async function writeBulkMlmd(o: BulkMlmdOptions): Promise<BulkMlmd> {
  const total = o.results ?? 100_000;
  const nExec = o.executions ?? 200;
  const nModels = o.models ?? 3;
  const nMeas = o.measurementsPerExecution ?? 10;
  let ts = o.startNs ?? 1796312080879783945n;
  const t0Ms = Number(ts / 1_000_000n);
  await fsp.mkdir(o.workspace, { recursive: true });
  const mlmd = path.join(o.workspace, 'mlmd');

  const { db } = await loadMlmd(path.join(o.workspace, 'does-not-exist'));
  const store = new MlmdStore(db);
  const applier = new Applier(store);
  const models = Array.from({ length: nModels }, (_, i) => md5(`model version ${i}`));
  const perModel = new Map(models.map((m) => [m, { results: 0, measurements: 0 }]));
  let made = 0;
  let measurements = 0;
  for (let e = 0; e < nExec; e++) {
    const model = models[Math.min(nModels - 1, Math.floor((e * nModels) / nExec))];
    const uuid = `${(0x10000000 + e).toString(16)}-0000-11f1-8000-${md5(`exec ${e}`).slice(0, 12)}`;
    const timeMs = t0Ms + e * 60_000;
    const open: OpenEntry = {
      t: 'open',
      uuid,
      timeMs,
      startNs: (BigInt(timeMs) * 1_000_000n).toString(),
      pipeline: 'bench',
      stage: 'inference',
      executionType: 'inference',
      command: "['cmf-sage', 'watch']",
      gitRepo: '',
      gitStart: '0'.repeat(40),
      remoteUrl: '/tmp/bench-dvc-remote',
      model: { md5: model, sha1: sha1(model), size: 1024, path: 'models/model.onnx', source: '/src/model.onnx', framework: 'Default', type: 'Default', name: 'Default' },
      source: 'pywaggle',
      identity: { sidecar_version: 'cmf-sage bench', node: 'W0B0', plugin: 'registry.sagecontinuum.org/bench/smoke:1.0.0' },
    };
    const entries: Entry[] = [open];
    const share = Math.floor(total / nExec) + (e < total % nExec ? 1 : 0);
    const every = Math.max(1, Math.ceil(share / Math.max(1, nMeas)));
    for (let k = 0; k < share; k++, made++) {
      ts += 1_000_003_217n; // about one result per second, with ns digits that a double would round
      const filename = k % 2 ? 'sample_next.jpg' : 'sample_current.jpg';
      const key = `${ts}-${filename}`;
      const sum = md5(`result ${made}`);
      entries.push({
        t: 'file',
        exec: uuid,
        timeMs: Number(ts / 1_000_000n),
        md5: sum,
        sha1: sha1(sum),
        size: 2900 + (made % 100),
        path: `results/2026-12-03/${key}`,
        filename,
        tsNs: ts.toString(),
        tsExact: true,
        uploadKey: key,
        meta: { filename },
        origin: `data.ndjson:${made + 1}`,
      });
      if (nMeas > 0 && k % every === 0) {
        measurements++;
        entries.push({
          t: 'measure',
          exec: uuid,
          timeMs: Number(ts / 1_000_000n),
          uri: `${md5(`measure ${measurements}`).slice(0, 8)}-0000-11f1-8000-000000000000`,
          name: 'env.smoke.certainty',
          value: { kind: 'double', value: (made % 1000) / 1000 },
          tsNs: ts.toString(),
          tsExact: true,
          timestampText: '',
          meta: {},
          origin: `data.ndjson:${made + 1}`,
        });
        perModel.get(model)!.measurements++;
      }
      perModel.get(model)!.results++;
    }
    entries.push({ t: 'close', exec: uuid, timeMs: timeMs + 59_000, endNs: (BigInt(timeMs + 59_000) * 1_000_000n).toString(), gitEnd: '1'.repeat(40) });
    applier.apply(entries);
  }
  await saveMlmd(store, mlmd, { fsync: false });
  store.close();
  return { mlmd, models, perModel, results: made, measurements };
}
