// The query commands on an mlmd cmf-sage did not write: built here with the
// MLMD store in cmflib's layout (research cmf.md §1–§4): Parent_Context /
// Pipeline_Stage contexts, execution type = the stage's step name with the
// ten cmflib properties and Python_Env, an Environment artifact input to every
// execution, Datasets named `<path>:<md5>` without cmf-sage's custom
// properties, a training stage that outputs the Model, two Model artifacts
// with one uri, log_execution_metrics-style Metrics, Label and Step_Metrics
// artifacts, re-link events with path keys, a re-usable execution.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import {
  EventType, ExecutionState, MlmdStore, PropertyType, TypeKind, dbl, int, loadMlmd, saveMlmd, str, type Value,
} from '../src/mlmd/index.js';
import { EXECUTION_TYPE_PROPERTIES } from '../src/cmf/names.js';
import { runCli, tempDir } from './helpers.js';

const T0 = 1_700_000_000_000; // ms
const M1 = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';
const M2 = '0f1e2d3c4b5a69788796a5b4c3d2e1f0';
const ENV = '11111111111111111111111111111111';
const RAW = '22222222222222222222222222222222';
const TRAIN = '33333333333333333333333333333333';
const SCORES = '44444444444444444444444444444444';
const SCORES2 = '55555555555555555555555555555555';
const SCORES3 = '66666666666666666666666666666666';
const LABEL = '77777777777777777777777777777777';
const IMPORTANCE = 'abababababababababababababababab';
const FEATURES = '88888888888888888888888888888888.dir';
const REPO = 'https://github.com/example/smoke.git';
const GIT1 = 'c'.repeat(40);
const GIT2 = 'd'.repeat(40);

export async function buildCmflibMlmd(file: string): Promise<void> {
  const { db } = await loadMlmd(path.join(path.dirname(file), 'absent'));
  const s = new MlmdStore(db);
  let now = T0;
  const tick = () => (now += 1000);
  s.transaction(() => {
    const pipeType = s.getOrCreateType(TypeKind.CONTEXT, 'Parent_Context', { Pipeline: PropertyType.STRING });
    const stageType = s.getOrCreateType(TypeKind.CONTEXT, 'Pipeline_Stage', { Pipeline_Stage: PropertyType.STRING });
    const pipe = s.createContext({ typeId: pipeType, name: 'Test-env', properties: { Pipeline: str('Test-env') }, customProperties: { owner: str('lab') }, nowMs: tick() });
    const stage = (name: string) => {
      const full = `Test-env/${name}`;
      const id = s.createContext({ typeId: stageType, name: full, properties: { Pipeline_Stage: str(full) }, customProperties: { 'user-metadata1': str('metadata_value') }, nowMs: tick() });
      s.putParentContext(id, pipe);
      return id;
    };
    const artType = (name: string, props: Record<string, PropertyType>) => s.getOrCreateType(TypeKind.ARTIFACT, name, props);
    const dvcProps = { git_repo: PropertyType.STRING, Commit: PropertyType.STRING, url: PropertyType.STRING };
    const envType = artType('Environment', dvcProps);
    const dsType = artType('Dataset', dvcProps);
    const modelType = artType('Model', { model_framework: PropertyType.STRING, model_type: PropertyType.STRING, model_name: PropertyType.STRING, Commit: PropertyType.STRING, url: PropertyType.STRING });
    const metricsType = artType('Metrics', { metrics_name: PropertyType.STRING });
    const stepType = artType('Step_Metrics', { Commit: PropertyType.STRING, url: PropertyType.STRING });
    const labelType = artType('Label', dvcProps);
    const url = (md5: string) => `Test-env:/home/user/local-storage/files/md5/${md5.slice(0, 2)}/${md5.slice(2)}`;

    let envId: number | undefined;
    const execution = (stageId: number, step: string, uuid: string, state: ExecutionState | undefined, extra: Record<string, Value> = {}, name?: string) => {
      const typeId = s.getOrCreateType(TypeKind.EXECUTION, step, EXECUTION_TYPE_PROPERTIES);
      const id = s.createExecution({
        typeId,
        name: name ?? null,
        state,
        properties: {
          Execution_uuid: str(uuid),
          Context_Type: str(`Test-env/${step}`),
          Context_ID: int(stageId),
          Execution: str(`['src/${step.toLowerCase()}.py', 'artifacts/data.xml.gz']`),
          Execution_type_name: str(`Test-env/${step}`),
          Pipeline_Type: str('Test-env'),
          Pipeline_id: int(pipe),
          Git_Repo: str(REPO),
          Git_Start_Commit: str(GIT1),
          Git_End_Commit: str(state === ExecutionState.COMPLETE ? GIT2 : ''),
        },
        customProperties: { Python_Env: str(`cmf_artifacts/python_env_${ENV}.txt`), seed: int(20170428), split: str('0.2'), ...extra },
        nowMs: tick(),
      });
      s.putAssociation(stageId, id);
      // the Environment artifact: created once, then re-linked (INPUT with a path key, no time)
      if (envId === undefined) {
        envId = s.createArtifact({ typeId: envType, uri: ENV, name: `cmf_artifacts/python_env_${ENV}.txt:${ENV}`, properties: { git_repo: str(REPO), Commit: str(ENV), url: str(url(ENV)) }, nowMs: now });
        s.putEvent({ artifactId: envId, executionId: id, type: EventType.INPUT, timeMs: now });
        s.putAttribution(stageId, envId);
      } else {
        s.putEvent({ artifactId: envId, executionId: id, type: EventType.INPUT, pathKey: `cmf_artifacts/python_env_${ENV}.txt:${ENV}` });
      }
      return id;
    };
    const dataset = (stageId: number, execId: number, p: string, md5: string, type: EventType, custom: Record<string, Value> = {}) => {
      const id = s.createArtifact({ typeId: dsType, uri: md5, name: `${p}:${md5}`, properties: { git_repo: str(REPO), Commit: str(md5), url: str(url(md5)) }, customProperties: custom, nowMs: tick() });
      s.putEvent({ artifactId: id, executionId: execId, type, timeMs: now });
      s.putAttribution(stageId, id);
      return id;
    };
    const model = (stageId: number, execId: number, md5: string, type: EventType, nameSuffix: number) => {
      const id = s.createArtifact({
        typeId: modelType, uri: md5, name: `artifacts/model.pkl:${md5}:${nameSuffix}`,
        properties: { model_framework: str('SKlearn'), model_type: str('RandomForestClassifier'), model_name: str('RandomForestClassifier:default'), Commit: str(md5), url: str(url(md5)) },
        nowMs: tick(),
      });
      s.putEvent({ artifactId: id, executionId: execId, type, timeMs: now });
      s.putAttribution(stageId, id);
      return id;
    };

    // Prepare: data.xml.gz in, train.tsv and a directory out; no model
    const prepare = stage('Prepare');
    const e1 = execution(prepare, 'Prepare', '1afa7676-76f6-11ee-9600-5b8c6d427e3f', ExecutionState.COMPLETE);
    dataset(prepare, e1, 'artifacts/data.xml.gz', RAW, EventType.INPUT, { labels: str('artifacts/labels.csv'), labels_uri: str(`artifacts/labels.csv:${LABEL}`) });
    const train = dataset(prepare, e1, 'artifacts/parsed/train.tsv', TRAIN, EventType.OUTPUT, { 'user-metadata1': str('metadata_value') });
    dataset(prepare, e1, 'artifacts/features', FEATURES, EventType.OUTPUT);
    const label = s.createArtifact({ typeId: labelType, uri: LABEL, name: `artifacts/labels.csv:${LABEL}`, properties: { git_repo: str(REPO), Commit: str(LABEL), url: str(`artifacts/labels.csv:${LABEL}`) }, customProperties: { dataset_uri: str(RAW) }, nowMs: tick() });
    s.putEvent({ artifactId: label, executionId: e1, type: EventType.INPUT, timeMs: now });

    // Train: train.tsv in (re-link), model M1 out; a re-usable execution (named, two uuids)
    const trainStage = stage('Train');
    const e2 = execution(trainStage, 'Train', '2bfa7676-76f6-11ee-9600-5b8c6d427e3f,2cfa7676-76f6-11ee-9600-5b8c6d427e3f', ExecutionState.COMPLETE, { max_depth: int(5) }, 'Train');
    s.putEvent({ artifactId: train, executionId: e2, type: EventType.INPUT, pathKey: `artifacts/parsed/train.tsv:${TRAIN}` });
    const m1 = model(trainStage, e2, M1, EventType.OUTPUT, e2);
    dataset(trainStage, e2, 'artifacts/importance.csv', IMPORTANCE, EventType.OUTPUT);
    const step = s.createArtifact({ typeId: stepType, uri: '99999999999999999999999999999999', name: `cmf_artifacts/2bfa/metrics/training_metrics:99999999999999999999999999999999:${e2}:3d0c`, properties: { Commit: str('9'.repeat(32)), url: str(url('9'.repeat(32))) }, nowMs: tick() });
    s.putEvent({ artifactId: step, executionId: e2, type: EventType.OUTPUT, timeMs: now });

    // Evaluate #1 with M1 (re-linked: INPUT with a path key), scores + coarse metrics out
    const evaluate = stage('Evaluate');
    const e3 = execution(evaluate, 'Evaluate', '3dfa7676-76f6-11ee-9600-5b8c6d427e3f', ExecutionState.COMPLETE);
    s.putEvent({ artifactId: m1, executionId: e3, type: EventType.INPUT, pathKey: `artifacts/model.pkl:${M1}` });
    dataset(evaluate, e3, 'artifacts/scores.json', SCORES, EventType.OUTPUT);
    const metrics = s.createArtifact({ typeId: metricsType, uri: '5e1f0000-76f6-11ee-9600-5b8c6d427e3f', name: `metrics:5e1f0000-76f6-11ee-9600-5b8c6d427e3f:${e3}`, properties: { metrics_name: str(`metrics:5e1f0000-76f6-11ee-9600-5b8c6d427e3f:${e3}`) }, customProperties: { auc: dbl(0.91), loss: dbl(0.2), n: int(500) }, nowMs: tick() });
    s.putEvent({ artifactId: metrics, executionId: e3, type: EventType.OUTPUT, timeMs: now });

    // Evaluate #2: the same model bytes as a second Model artifact (one uri, another name), still open
    const e4 = execution(evaluate, 'Evaluate', '4efa7676-76f6-11ee-9600-5b8c6d427e3f', ExecutionState.RUNNING);
    model(evaluate, e4, M1, EventType.INPUT, e4);
    // (a `:` in its path: the name `<path>:<md5>` is cut at the md5, not at the first `:`)
    dataset(evaluate, e4, 'artifacts/run:2/scores 2, "final".json', SCORES2, EventType.OUTPUT);

    // Evaluate #3, the most recent: another model version; state never set (NULL)
    const e5 = execution(evaluate, 'Evaluate', '5ffa7676-76f6-11ee-9600-5b8c6d427e3f', undefined);
    model(evaluate, e5, M2, EventType.INPUT, e5);
    dataset(evaluate, e5, 'artifacts/scores.json', SCORES3, EventType.OUTPUT);
  });
  await saveMlmd(s, file, { fsync: false });
  s.close();
}

let built: Promise<string> | undefined;
const mlmdFile = () =>
  (built ??= (async () => {
    const file = path.join(await tempDir('query-cmflib-'), 'mlmd');
    await buildCmflibMlmd(file);
    return file;
  })());

async function json(args: string[]) {
  const r = await runCli([...args, '--json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

const nsOf = (ms: number) => (BigInt(ms) * 1_000_000n).toString();

test('cmflib file: model versions merged by uri, latest = the most recent execution', async () => {
  const file = await mlmdFile();
  const out = await json(['models', '--file', file]);
  assert.deepEqual(out.sources, [file]);
  assert.deepEqual(
    out.models.map((m: Record<string, unknown>) => [m.md5, m.path, m.paths, m.executions, m.results, m.metrics, m.latest, m.previous, m.in_use]),
    [
      [M2, 'artifacts/model.pkl', ['artifacts/model.pkl'], 1, 1, 0, true, false, false],
      [M1, 'artifacts/model.pkl', ['artifacts/model.pkl'], 2, 2, 1, false, true, true],
    ],
  );
  // first and last use fall back to MLMD's own ms times
  const m1 = out.models[1];
  assert.equal(m1.first_used_ns, nsOf(T0 + 14_000)); // Evaluate #1's create time
  assert.equal(m1.last_used_ns, nsOf(T0 + 17_000)); // Evaluate #2 is open: its start
});

test('cmflib file: results say which fields are missing instead of inventing them', async () => {
  const file = await mlmdFile();
  const prev = await json(['results', '--file', file, '--model', 'previous']);
  assert.deepEqual(prev.models, [{ md5: M1, path: 'artifacts/model.pkl' }]);
  const rows = prev.rows as Record<string, unknown>[];
  assert.deepEqual(
    rows.map((r) => [r.kind, r.name, r.md5, r.path, r.key, r.timestamp_ns]),
    [
      ['result', 'scores.json', SCORES, 'artifacts/scores.json', null, nsOf(T0 + 15_000)],
      ['measurement', 'metrics', null, null, null, nsOf(T0 + 16_000)],
      ['result', 'scores 2, "final".json', SCORES2, 'artifacts/run:2/scores 2, "final".json', null, nsOf(T0 + 19_000)],
    ],
  );
  assert.deepEqual(rows[0].missing, ['timestamp_ns', 'upload_key', 'filename', 'sha1']);
  assert.deepEqual(rows[1].missing, ['timestamp_ns', 'measurement']);
  assert.equal(rows[1].value, '{"auc":0.91,"loss":0.2,"n":500}');
  // every execution's outputs, with no model for the stages that ran none
  const all = await json(['results', '--file', file]);
  assert.deepEqual(
    (all.rows as Record<string, unknown>[]).map((r) => [r.name, r.model_md5]),
    [
      ['train.tsv', null],
      ['features', null],
      ['importance.csv', null],
      ['scores.json', M1],
      ['metrics', M1],
      ['scores 2, "final".json', M1],
      ['scores.json', M2],
    ],
  );
  const human = await runCli(['results', '--file', file, '--model', 'latest']);
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stdout, /not recorded in this lineage \(shown from MLMD's own times and names instead\): timestamp_ns, upload_key, filename, sha1/);
});

test('cmflib file: lineage through the training stage, Git_* and Python_Env', async () => {
  const file = await mlmdFile();
  const out = await json(['lineage', '--file', file, 'artifacts/scores.json']);
  assert.deepEqual(
    out.chains.map((c: { result: { md5: string }; models: unknown[]; stage: string; pipeline: string }) => [c.result.md5, c.models, c.stage, c.pipeline]),
    [
      [SCORES, [{ md5: M1, path: 'artifacts/model.pkl' }], 'Test-env/Evaluate', 'Test-env'],
      [SCORES3, [{ md5: M2, path: 'artifacts/model.pkl' }], 'Test-env/Evaluate', 'Test-env'],
    ],
  );
  const e = out.chains[0].execution;
  assert.deepEqual(e.git, { repo: REPO, start: GIT1, end: GIT2 });
  assert.deepEqual(e.identity, { Python_Env: `cmf_artifacts/python_env_${ENV}.txt` });
  assert.equal(e.type, 'Evaluate');
  assert.equal(e.window_recorded, false);
  const prepared = await json(['lineage', '--file', file, TRAIN]);
  assert.deepEqual(prepared.chains.map((c: { execution: { uuid: string } }) => c.execution.uuid), ['1afa7676-76f6-11ee-9600-5b8c6d427e3f']);
  assert.deepEqual(prepared.chains[0].models, []);
  const trained = await json(['lineage', '--file', file, 'artifacts/importance.csv']);
  assert.equal(trained.chains[0].execution.uuid, '2bfa7676-76f6-11ee-9600-5b8c6d427e3f,2cfa7676-76f6-11ee-9600-5b8c6d427e3f');
  assert.equal(trained.chains[0].stage, 'Test-env/Train');
  const label = await runCli(['lineage', '--file', file, LABEL]);
  assert.equal(label.code, 1);
  assert.match(label.stderr, /it is a Label artifact \(artifacts\/labels\.csv:7+\): lineage starts from a result or measurement/);
  const input = await runCli(['lineage', '--file', file, RAW]);
  assert.equal(input.code, 1);
  assert.match(input.stderr, /a Dataset artifact \(artifacts\/data\.xml\.gz:2+\) that no execution output/);
});

test('cmflib file: the graph shows the training stage producing the model', async () => {
  const file = await mlmdFile();
  const r = await runCli(['graph', '--file', file]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^%% cmf-sage lineage: Test-env; 2 model versions, 5 executions, 6 results · 1 metric\n/);
  for (const s of ['Test-env/Prepare', 'Test-env/Train', 'Test-env/Evaluate']) assert.ok(r.stdout.includes(`"stage<br/>${s}"`), s);
  assert.match(r.stdout, /e1 -- output --> m1/);
  assert.match(r.stdout, /m1 -- input --> e2/);
  assert.match(r.stdout, /m1 -- input --> e3/);
  assert.match(r.stdout, /m0 -- input --> e4/);
});
