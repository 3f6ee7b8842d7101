// The cmf-server payload (cmflib's dumptojson text), judged by Python: its json
// module parses it and checks the types, and a second, independent build of
// the same structure in Python (sqlite3 + json.dumps, following cmf.md §6.2)
// must give the same bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { loadMlmd, MlmdStore } from '../src/mlmd/index.js';
import { dumpToJson, dumpToJsonMerged, pipelineNames } from '../src/server/payload.js';
import { pyDumps, pyFloatRepr, pyStr, PyFloat } from '../src/server/pyjson.js';
import { execFileP, sqlite, tempDir } from './helpers.js';
import { pythonWithInput, recordWorkspace, seal } from './server-helpers.js';

/** dumptojson rebuilt in Python from the SQLite file: MLMD's read order, cmflib's _copy, CONTEXT_LIST. */
const ORACLE = String.raw`
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1]); want = sys.argv[2]
q = lambda sql, *a: db.execute(sql, a).fetchall()
def tname(tid):
    r = q("SELECT name FROM Type WHERE id=?", tid)
    return r[0][0] if r else None
def val(i, d, s):
    if i is not None: return i
    if d is not None: return float(d)
    if s is not None: return 0.0 if s.startswith("mlmd-struct::") else s
    return 0.0
def props(table, col, nid):
    P, C = {}, {}
    for name, cust, i, d, s in q("SELECT name,is_custom_property,int_value,double_value,string_value FROM %s WHERE %s=? ORDER BY is_custom_property, name" % (table, col), nid):
        if cust: C["user_type" if name == "type" else name] = val(i, d, s)
        else: P[name] = val(i, d, s)
    return P, C
def node(row, d, table, col, uri=None):
    nid, tid, name, ct, ut = row
    P, C = props(table, col, nid)
    d["create_time_since_epoch"] = ct or 0
    d["custom_properties"] = C
    d["id"] = nid
    d["last_update_time_since_epoch"] = ut or 0
    if name: d["name"] = name
    d["properties"] = P
    if tname(tid): d["type"] = tname(tid)
    d["type_id"] = tid
    if uri: d["uri"] = uri
    return d
CTX = "SELECT c.id,c.type_id,c.name,c.create_time_since_epoch,c.last_update_time_since_epoch "
out = []
for prow in q(CTX + "FROM Context c JOIN Type t ON t.id=c.type_id WHERE t.name='Parent_Context' AND t.type_kind=2 AND c.name=? ORDER BY c.id", want):
    stages = []
    for srow in q(CTX + "FROM ParentContext p JOIN Context c ON c.id=p.context_id WHERE p.parent_context_id=? ORDER BY c.id", prow[0]):
        execs = []
        for erow in q("SELECT e.id,e.type_id,e.name,e.create_time_since_epoch,e.last_update_time_since_epoch FROM Association a JOIN Execution e ON e.id=a.execution_id WHERE a.context_id=? ORDER BY e.id", srow[0]):
            events = []
            for etype, aid in q("SELECT type, artifact_id FROM Event WHERE execution_id=? ORDER BY id", erow[0]):
                a = q("SELECT id,type_id,name,create_time_since_epoch,last_update_time_since_epoch,uri FROM Artifact WHERE id=?", aid)[0]
                events.append({"type": etype, "artifact": node(a[:5], {"type": tname(a[1])}, "ArtifactProperty", "artifact_id", a[5])})
            execs.append(node(erow, {"type": tname(erow[1]), "name": erow[2] or "", "events": events}, "ExecutionProperty", "execution_id"))
        stages.append(node(srow, {"executions": execs}, "ContextProperty", "context_id"))
    out.append(node(prow, {"stages": stages}, "ContextProperty", "context_id"))
sys.stdout.write(json.dumps({"Pipeline": out}))
`;

const ws = recordWorkspace();

async function payloadOf(file: string, pipeline: string): Promise<string> {
  const store = new MlmdStore((await loadMlmd(file)).db);
  try {
    return dumpToJson(store, pipeline);
  } finally {
    store.close();
  }
}

test('floats are written as Python repr writes them (shortest digits, .0, exponents, NaN/Infinity)', async () => {
  const xs = [0, -0, 1, -1, 0.1, 0.2 + 0.1, 1 / 3, 23.5, 1e-4, 1e-5, 1.5e-7, 123456789012345.0, 1e15, 1e16, 1.2345678901234567e17, 1e21, 1e22, 5e-324, 1.7976931348623157e308, 2 ** 53, 2 ** 53 + 2, 20170428, -2.5e-10, 9007199254740993];
  for (let i = 0; i < 400; i++) {
    const buf = new DataView(new ArrayBuffer(8));
    buf.setUint32(0, (Math.random() * 2 ** 32) >>> 0);
    buf.setUint32(4, (Math.random() * 2 ** 32) >>> 0);
    const x = buf.getFloat64(0);
    if (Number.isFinite(x)) xs.push(x);
    xs.push(Math.random() * 10 ** Math.floor(Math.random() * 40 - 20));
  }
  // hex of the exact double goes to Python, which writes its own repr
  const hex = xs.map((x) => {
    const b = Buffer.alloc(8);
    b.writeDoubleBE(x);
    return b.toString('hex');
  });
  const py = await pythonWithInput(
    'import sys, struct, json\nfor h in sys.stdin.read().split():\n    print(json.dumps(struct.unpack(">d", bytes.fromhex(h))[0]))',
    hex.join('\n'),
  );
  const expected = py.trim().split('\n');
  xs.forEach((x, i) => assert.equal(pyFloatRepr(x), expected[i], `double ${x}`));
  assert.equal(pyFloatRepr(NaN), 'NaN');
  assert.equal(pyFloatRepr(Infinity), 'Infinity');
  assert.equal(pyFloatRepr(-Infinity), '-Infinity');
});

test('strings are escaped as json.dumps escapes them (ensure_ascii, \\uXXXX lowercase, surrogate pairs)', async () => {
  const strings = ['plain', 'q"uote', 'back\\slash', 'ctl \u0000\u0001\u001f\u007f', '\b\f\n\r\t', 'naïve ☃', '😀 astral', '\u2028\u2029', 'é'.normalize('NFD'), '{"json": "inside"}'];
  const py = await pythonWithInput('import sys, json\nfor s in json.loads(sys.stdin.read()):\n    print(json.dumps(s))', JSON.stringify(strings));
  const expected = py.trim().split('\n');
  strings.forEach((s, i) => assert.equal(pyStr(s), expected[i], JSON.stringify(s)));
  // int64 beyond 2^53 and nested containers
  const big = 2n ** 63n - 1n;
  assert.equal(pyDumps(new Map<string, never>([['a', [big, new PyFloat(1), null, true, 'x'] as never]])), `{"a": [${big}, 1.0, null, true, "x"]}`);
});

test('payload of a recorded workspace: Python reads the types cmf-server will store', async () => {
  const t = await ws;
  const mlmd = path.join(t.ws, 'mlmd');
  const text = await payloadOf(mlmd, 'smoke');
  assert.match(text, /^\{"Pipeline": \[\{"stages": \[/);
  assert.ok(/^[\x20-\x7e]*$/.test(text), 'the payload is printable ASCII (ensure_ascii)');
  const nsRows = await sqlite(mlmd, "SELECT CAST(int_value AS TEXT) AS v FROM ArtifactProperty WHERE name='timestamp_ns' ORDER BY artifact_id");
  const report = JSON.parse(
    await pythonWithInput(
      String.raw`
import json, sys
text = sys.stdin.read()
d = json.loads(text)
assert json.dumps(d) == text, "json.dumps(json.loads(payload)) differs from the payload"
p = d["Pipeline"][0]
st = p["stages"][0]
out = {"pipeline": [p["name"], p["type"], p["properties"]], "stage": [st["name"], st["type"], st["properties"]],
       "keys": {"pipeline": list(p), "stage": list(st)}, "executions": [], "values": {}, "ns": [], "artifacts": set()}
for e in st["executions"]:
    out["executions"].append({"keys": list(e), "type": e["type"], "name": e["name"], "uuid": e["properties"].get("Execution_uuid"),
        "props": {k: type(v).__name__ for k, v in e["properties"].items()},
        "custom": {k: type(v).__name__ for k, v in e["custom_properties"].items()}})
    for ev in e["events"]:
        a = ev["artifact"]
        out["artifacts"].add((a["type"], ev["type"], tuple(ev), tuple(a)))
        cp = a["custom_properties"]
        if "timestamp_ns" in cp: out["ns"].append(str(cp["timestamp_ns"]) + ":" + type(cp["timestamp_ns"]).__name__)
        if a["type"] == "Metrics":
            v = cp["value"]
            out["values"][cp["measurement"]] = [repr(v), type(v).__name__, cp.get("meta.unit")]
            if cp["measurement"] == "env.text": out["text"] = v
out["artifacts"] = sorted([list(x) for x in out["artifacts"]])
print(json.dumps(out))
`,
      text,
    ),
  );
  assert.deepEqual(report.pipeline, ['smoke', 'Parent_Context', { Pipeline: 'smoke' }]);
  assert.deepEqual(report.stage, ['smoke/inference', 'Pipeline_Stage', { Pipeline_Stage: 'smoke/inference' }]);
  assert.deepEqual(report.keys.pipeline, ['stages', 'create_time_since_epoch', 'custom_properties', 'id', 'last_update_time_since_epoch', 'name', 'properties', 'type', 'type_id']);
  assert.deepEqual(report.keys.stage, ['executions', 'create_time_since_epoch', 'custom_properties', 'id', 'last_update_time_since_epoch', 'name', 'properties', 'type', 'type_id']);
  assert.ok(report.executions.length >= 1);
  for (const e of report.executions) {
    assert.deepEqual(e.keys, ['type', 'name', 'events', 'create_time_since_epoch', 'custom_properties', 'id', 'last_update_time_since_epoch', 'properties', 'type_id']);
    assert.equal(e.type, 'inference');
    assert.equal(e.name, '');
    assert.match(e.uuid, /^[0-9a-f]{8}-[0-9a-f]{4}-1[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.deepEqual(e.props, {
      Context_ID: 'int', Context_Type: 'str', Execution: 'str', Execution_type_name: 'str', Execution_uuid: 'str',
      Git_End_Commit: 'str', Git_Repo: 'str', Git_Start_Commit: 'str', Pipeline_Type: 'str', Pipeline_id: 'int',
    });
    assert.equal(e.custom.window_start_ns, 'int');
  }
  // events carry only type and artifact; artifacts have cmflib's keys
  for (const [type, evType, evKeys, artKeys] of report.artifacts) {
    assert.deepEqual(evKeys, ['type', 'artifact']);
    assert.deepEqual(artKeys, ['type', 'create_time_since_epoch', 'custom_properties', 'id', 'last_update_time_since_epoch', 'name', 'properties', 'type_id', 'uri']);
    assert.equal(evType, type === 'Model' ? 3 : 4);
  }
  assert.deepEqual(new Set(report.artifacts.map((a: string[]) => a[0])), new Set(['Model', 'Dataset', 'Metrics']));
  // ns timestamps exact and ints
  const dsNs = report.ns.map((s: string) => s.split(':'));
  assert.ok(dsNs.every(([, ty]: string[]) => ty === 'int'));
  for (const r of nsRows) assert.ok(dsNs.some(([v]: string[]) => v === r.v), `timestamp_ns ${r.v} is in the payload exactly`);
  // measurement values keep their type: a whole double stays a float
  assert.deepEqual(report.values['env.whole_double'], ['1.0', 'float', '°C']);
  assert.deepEqual(report.values['env.temperature'], ['23.5', 'float', '°C']);
  assert.deepEqual(report.values['env.count'], ['42', 'int', '°C']);
  assert.deepEqual(report.values['env.big_int'], ['12345678901234567', 'int', '°C']);
  assert.deepEqual(report.values['env.tiny'], ['1e-07', 'float', '°C']);
  assert.deepEqual(report.values['env.huge'], ['1e+16', 'float', '°C']);
  // SQLite keeps an integral REAL as an integer on disk, so -0.0 reads back as 0.0 (in Python's sqlite3 too)
  assert.deepEqual(report.values['env.negative_zero'], ['0.0', 'float', '°C']);
  assert.deepEqual(report.values['env.nan'], ["'NaN'", 'str', '°C']);
  assert.equal(report.values['env.text'][1], 'str');
  assert.equal(report.text, 'naïve ☃ 😀 "q" \\ tab\there \u0001 del\u007f', 'non-ASCII and control characters survive the round trip');
});

test('payload is byte for byte what an independent Python build of dumptojson gives (live mlmd and a sealed segment)', async () => {
  const t = await ws;
  const mlmd = path.join(t.ws, 'mlmd');
  const ours = await payloadOf(mlmd, 'smoke');
  const { stdout } = await execFileP('python3', ['-c', ORACLE, mlmd, 'smoke'], { maxBuffer: 64 << 20 });
  assert.equal(ours, stdout);
  // a sealed segment is a standalone MLMD file: same rules
  const copy = await tempDir('server-seg-');
  await fsp.cp(t.ws, path.join(copy, 'ws'), { recursive: true });
  const [segDir] = await seal(path.join(copy, 'ws'));
  assert.ok(segDir, 'a segment was sealed');
  const seg = path.join(segDir!, 'mlmd');
  const segOurs = await payloadOf(seg, 'smoke');
  const { stdout: segPy } = await execFileP('python3', ['-c', ORACLE, seg, 'smoke'], { maxBuffer: 64 << 20 });
  assert.equal(segOurs, segPy);
  assert.equal(segOurs, ours, 'the segment holds the same executions as the live mlmd did');
});

test('a cmflib-style file: reusable execution name, struct/bool/proto values, a custom property "type", empty uri, Infinity', async () => {
  const t = await ws;
  const dir = await tempDir('server-cmflib-');
  const file = path.join(dir, 'mlmd');
  await fsp.copyFile(path.join(t.ws, 'mlmd'), file);
  await execFileP('sqlite3', [
    file,
    `UPDATE Execution SET name = 'reused-step' WHERE id = 1;
     INSERT INTO ExecutionProperty (execution_id, name, is_custom_property, string_value) VALUES (1, 'type', 1, 'user says type');
     INSERT INTO ExecutionProperty (execution_id, name, is_custom_property, string_value) VALUES (1, 'a_struct', 1, 'mlmd-struct::CgA=');
     INSERT INTO ExecutionProperty (execution_id, name, is_custom_property, bool_value) VALUES (1, 'a_bool', 1, 1);
     INSERT INTO ExecutionProperty (execution_id, name, is_custom_property, proto_value) VALUES (1, 'a_proto', 1, 'CgR0ZXN0');
     INSERT INTO ExecutionProperty (execution_id, name, is_custom_property, double_value) VALUES (1, 'an_inf', 1, 9e999);
     INSERT INTO ExecutionProperty (execution_id, name, is_custom_property, double_value) VALUES (1, 'split', 1, 20170428.0);
     UPDATE Artifact SET uri = '' WHERE id = (SELECT max(id) FROM Artifact);`,
  ]);
  const ours = await payloadOf(file, 'smoke');
  const { stdout } = await execFileP('python3', ['-c', ORACLE, file, 'smoke'], { maxBuffer: 64 << 20 });
  assert.equal(ours, stdout);
  const e = JSON.parse(
    await pythonWithInput('import json,sys; d=json.loads(sys.stdin.read()); print(json.dumps({k: [repr(v), type(v).__name__] for k, v in d["Pipeline"][0]["stages"][0]["executions"][0]["custom_properties"].items()} | {"_name": d["Pipeline"][0]["stages"][0]["executions"][0]["name"]}))', ours),
  );
  assert.equal(e._name, 'reused-step');
  assert.deepEqual(e.user_type, ["'user says type'", 'str']);
  assert.equal(e.type, undefined);
  assert.deepEqual(e.a_struct, ['0.0', 'float']);
  assert.deepEqual(e.a_bool, ['0.0', 'float']);
  assert.deepEqual(e.a_proto, ['0.0', 'float']);
  assert.deepEqual(e.an_inf, ['inf', 'float']);
  assert.deepEqual(e.split, ['20170428.0', 'float']);
  assert.match(ours, /"an_inf": Infinity/);
});

test('pipelines: an unknown name gives an empty Pipeline list; several files merge by id', async () => {
  const t = await ws;
  const store = new MlmdStore((await loadMlmd(path.join(t.ws, 'mlmd'))).db);
  try {
    assert.deepEqual(pipelineNames(store), ['smoke']);
    assert.equal(dumpToJson(store, 'nope'), '{"Pipeline": []}');
    assert.equal(dumpToJsonMerged([store, store], 'smoke'), dumpToJson(store, 'smoke'), 'the same executions twice are written once');
  } finally {
    store.close();
  }
});
