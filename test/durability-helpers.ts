import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import assert from 'node:assert/strict';
import { CLI, execFileP, python } from './helpers.js';

/** Appends pywaggle-shaped results: an upload (file then line) and a measurement. */
export class ResultWriter {
  private n = 0;
  constructor(readonly logdir: string, private readonly base = 1796312100000000000n) {}

  async init(): Promise<void> {
    await fsp.mkdir(path.join(this.logdir, 'uploads'), { recursive: true });
    await fsp.appendFile(path.join(this.logdir, 'data.ndjson'), '');
  }

  /** One upload plus one measurement, as pywaggle writes them. */
  async add(bytes = 4096): Promise<string> {
    const i = this.n++;
    const ts = this.base + BigInt(i) * 1_000_000_007n;
    const name = `${ts}-frame.jpg`;
    const body = Buffer.alloc(bytes, i % 251);
    body.write(`frame ${i} at ${ts}`);
    await fsp.writeFile(path.join(this.logdir, 'uploads', name), body);
    const iso = isoLocal(ts);
    const lines =
      `{"meta":{"filename":"frame.jpg"},"name":"upload","timestamp":"${iso}","value":"/plugin/logdir/uploads/${name}"}\n` +
      `{"meta":{"camera":"top"},"name":"env.smoke.certainty","timestamp":"${iso}","value":0.${String(500 + i).padStart(4, '0')}}\n`;
    await fsp.appendFile(path.join(this.logdir, 'data.ndjson'), lines);
    return name;
  }

  get count(): number {
    return this.n;
  }
}

/** pywaggle's string for ns (UTC container): microseconds then the last 3 ns digits. */
function isoLocal(ts: bigint): string {
  const ms = Number(ts / 1_000_000n);
  const micro = (ts / 1000n) % 1_000_000n;
  const base = new Date(ms).toISOString().slice(0, 19);
  return `${base}.${micro.toString().padStart(6, '0')}${(ts % 1000n).toString().padStart(3, '0')}`;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/** Run the CLI to its end (or its death), with extra environment. */
export function runToExit(args: string[], env: Record<string, string> = {}, timeoutMs = 60_000): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, CMF_SAGE_LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`timed out: ${args.join(' ')}`));
    }, timeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stderr });
    });
  });
}

const md5hex = (b: Buffer) => createHash('md5').update(b).digest('hex');

/**
 * The durability invariants, each checked with an independent tool:
 * - the mlmd opens in Python's sqlite3, integrity_check ok, schema 10;
 * - `git fsck --full --strict` passes and HEAD resolves;
 * - every DVC cache object's md5 equals its name;
 * - every upload and measurement in data.ndjson is recorded exactly once,
 *   with the expected model as the input of its execution;
 * - no execution is left RUNNING; every Git_End_Commit exists;
 * - every Dataset's pointer is in HEAD.
 */
export async function checkInvariants(ws: string, logdir: string, modelMd5: string | ((key: string) => string)): Promise<void> {
  const segDir = path.join(ws, '.cmf-sage', 'segments');
  const segs = (await fsp.readdir(segDir).catch(() => [] as string[])).filter((n) => /^\d+$/.test(n)).sort();
  const files = [path.join(ws, 'mlmd'), ...segs.map((n) => path.join(segDir, n, 'mlmd'))];
  const out = await python(
    `import sqlite3, sys, json
r = {'integrity': [], 'version': [], 'tables': [], 'uploads': {}, 'measures': {}, 'running': 0, 'ends': [], 'model_of': [], 'datasets': []}
for f in sys.argv[1:]:
    c = sqlite3.connect('file:' + f + '?mode=ro', uri=True)
    r['integrity'].append(c.execute('PRAGMA integrity_check').fetchone()[0])
    r['version'] += [x[0] for x in c.execute('SELECT schema_version FROM MLMDEnv')]
    r['tables'].append(c.execute("SELECT count(*) FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'").fetchone()[0])
    for k, n in c.execute("""SELECT p.string_value, count(*) FROM ArtifactProperty p JOIN Artifact a ON a.id=p.artifact_id
      JOIN Type t ON t.id=a.type_id WHERE t.name='Dataset' AND p.name='upload_key' GROUP BY p.string_value"""):
        r['uploads'][k] = r['uploads'].get(k, 0) + n
    for k, n in c.execute("""SELECT CAST(p.int_value AS TEXT), count(*) FROM ArtifactProperty p JOIN Artifact a ON a.id=p.artifact_id
      JOIN Type t ON t.id=a.type_id WHERE t.name='Metrics' AND p.name='timestamp_ns' GROUP BY p.int_value"""):
        r['measures'][k] = r['measures'].get(k, 0) + n
    r['running'] += c.execute('SELECT count(*) FROM Execution WHERE last_known_state = 2').fetchone()[0]
    r['ends'] += [x[0] for x in c.execute("SELECT string_value FROM ExecutionProperty WHERE name='Git_End_Commit'")]
    r['model_of'] += c.execute("""SELECT k.string_value, m.uri FROM Artifact d
      JOIN ArtifactProperty k ON k.artifact_id=d.id AND k.name='upload_key'
      JOIN Event o ON o.artifact_id=d.id AND o.type=4
      JOIN Event i ON i.execution_id=o.execution_id AND i.type=3
      JOIN Artifact m ON m.id=i.artifact_id JOIN Type mt ON mt.id=m.type_id AND mt.name='Model'""").fetchall()
    r['datasets'] += [x[0] for x in c.execute("SELECT a.name FROM Artifact a JOIN Type t ON t.id=a.type_id WHERE t.name='Dataset'")]
r['uploads'] = list(r['uploads'].items())
r['measures'] = list(r['measures'].items())
print(json.dumps(r))`,
    ...files,
  );
  const r = JSON.parse(out);
  assert.deepEqual(r.integrity, files.map(() => 'ok'));
  assert.deepEqual(r.version, files.map(() => 10));
  assert.deepEqual(r.tables, files.map(() => 15));
  assert.equal(r.running, 0, 'an execution was left RUNNING');

  await execFileP('git', ['fsck', '--full', '--strict'], { cwd: ws });
  const head = (await execFileP('git', ['rev-parse', 'HEAD'], { cwd: ws })).stdout.trim();
  assert.match(head, /^[0-9a-f]{40}$/);
  for (const sha of r.ends) {
    assert.match(sha, /^[0-9a-f]{40}$/, 'Git_End_Commit is set');
    await execFileP('git', ['cat-file', '-e', `${sha}^{commit}`], { cwd: ws });
  }
  // Every Dataset's pointer is in HEAD (sealed ones too: pointers stay in git).
  const inHead = new Set((await execFileP('git', ['ls-tree', '-r', '--name-only', 'HEAD'], { cwd: ws, maxBuffer: 256 << 20 })).stdout.split('\n'));
  for (const name of r.datasets) assert.ok(inHead.has(`${String(name).split(':')[0]}.dvc`), `pointer of ${name} is in HEAD`);

  const objRoot = path.join(ws, '.dvc', 'cache', 'files', 'md5');
  for (const d of await fsp.readdir(objRoot)) {
    if (!/^[0-9a-f]{2}$/.test(d)) continue;
    for (const f of await fsp.readdir(path.join(objRoot, d))) {
      assert.match(f, /^[0-9a-f]{30}$/, `only objects under ${d}/ (found ${f})`);
      assert.equal(md5hex(await fsp.readFile(path.join(objRoot, d, f))), d + f, `cache object ${d}${f}`);
    }
  }

  const lines = (await fsp.readFile(path.join(logdir, 'data.ndjson'), 'utf8')).split('\n').filter(Boolean).map((l) => JSON.parse(l.replace(/"value":(0\.\d+)/, '"value":"$1"')));
  const keys = lines.filter((l) => l.name === 'upload').map((l) => path.basename(l.value));
  const uploads = new Map<string, number>(r.uploads);
  assert.equal(uploads.size, keys.length, 'every upload recorded');
  for (const k of keys) assert.equal(uploads.get(k), 1, `upload ${k} recorded exactly once`);
  const measures = lines.filter((l) => l.name !== 'upload').length;
  assert.equal(r.measures.length, measures, 'every measurement recorded');
  for (const [ts, n] of r.measures) assert.equal(n, 1, `measurement at ${ts} recorded exactly once`);
  const modelOf = new Map<string, string[]>();
  for (const [k, m] of r.model_of) modelOf.set(k, [...(modelOf.get(k) ?? []), m]);
  for (const k of keys) {
    const want = typeof modelMd5 === 'string' ? modelMd5 : modelMd5(k);
    assert.deepEqual(modelOf.get(k), [want], `model of ${k}`);
  }
}
