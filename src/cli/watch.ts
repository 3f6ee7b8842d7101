import os from 'node:os';
import path from 'node:path';
import { Command, Option, InvalidArgumentError } from 'commander';
import { isValidBranchName } from '../git/refs.js';
import { UserError } from '../errors.js';
import { createLogger } from '../log.js';
import { VERSION } from '../version.js';
import { Recorder, type SourceKind } from '../recorder/recorder.js';
import { runWatchLoop } from '../recorder/watch.js';
import { defaultRemoteFor } from '../workspace/layout.js';
import { readDefaultRemote } from '../dvc/index.js';
import { commandRepr } from '../cmf/names.js';
import { resolveWorkspaceDir } from './common.js';

interface WatchFlags {
  pipeline: string;
  model: string;
  results?: string;
  source: SourceKind;
  workspace?: string;
  dvcRemote?: string;
  mlmd: string;
  stage: string;
  executionType: string;
  gitRemote?: string;
  window: number;
  once?: boolean;
  settle: number;
  node?: string;
  plugin?: string;
  modelFramework: string;
  segmentResults: number;
  modelType: string;
  modelName: string;
}

function positiveSeconds(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a positive number of seconds');
  return n;
}

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('expected a positive whole number');
  return n;
}

function nonNegativeSeconds(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError('expected a number of seconds (0 or more)');
  return n;
}

/** A name cmflib can carry: not empty, no `/` (it joins stage names with it), no `:`. */
function cmfName(what: string) {
  return (v: string): string => {
    if (!v.trim()) throw new InvalidArgumentError(`the ${what} name must not be empty`);
    if (/[/:]/.test(v) || /[\u0000-\u001f]/.test(v)) throw new InvalidArgumentError(`the ${what} name must not contain "/", ":" or control characters`);
    return v;
  };
}

export function registerWatch(program: Command): void {
  program
    .command('watch')
    .description('run beside a plugin: record every result with the model version that produced it')
    .requiredOption('--pipeline <name>', 'pipeline name (cmf Parent_Context)', cmfName('pipeline'))
    .requiredOption('--model <path>', 'the model file the plugin loads')
    .option('--results <dir>', 'folder the plugin writes to (default: $PYWAGGLE_LOG_DIR)')
    .addOption(new Option('--source <kind>', 'how to read the results folder').choices(['auto', 'pywaggle', 'dir']).default('auto'))
    .option('--workspace <dir>', 'cmf workspace (default: $CMF_SAGE_WORKSPACE or ./cmf-workspace)')
    .option('--dvc-remote <url>', 'default DVC remote (default: a folder beside the workspace)')
    .option('--mlmd <name>', 'mlmd file name inside the workspace', 'mlmd')
    .option('--stage <name>', 'pipeline stage', cmfName('stage'), 'inference')
    .option('--execution-type <name>', 'execution type name', cmfName('execution type'), 'inference')
    .option('--git-remote <url>', 'git remote recorded as cmf_origin and in Git_Repo')
    .option('--window <seconds>', 'how long one execution collects results', positiveSeconds, 60)
    .option('--once', 'record what is there now, close the execution and exit')
    .option('--settle <seconds>', 'how long a file must stay unchanged before it counts (folder mode and model)', nonNegativeSeconds, 2)
    .option('--node <id>', 'node identity to record (e.g. the VSN)')
    .option('--plugin <name>', 'plugin identity to record (e.g. image and tag)')
    .option('--segment-results <n>', 'seal closed executions into a segment after this many results (bounds memory)', positiveInt, 2_000)
    .option('--model-framework <name>', 'cmf model_framework property', 'Default')
    .option('--model-type <name>', 'cmf model_type property', 'Default')
    .option('--model-name <name>', 'cmf model_name property', 'Default')
    .action(async (flags: WatchFlags) => {
      await watchCommand(flags);
    });
}

/** The workspace root's own folders (its dot-files are refused as branch names already). */
const WORKSPACE_ENTRIES = new Set(['models', 'results']);

async function watchCommand(f: WatchFlags): Promise<void> {
  const resultsDir = f.results ?? process.env.PYWAGGLE_LOG_DIR;
  if (!resultsDir) {
    throw new UserError('no results folder: pass --results DIR or set PYWAGGLE_LOG_DIR to the folder the plugin writes to');
  }
  if (!/^[A-Za-z0-9._-]+$/.test(f.mlmd)) {
    throw new UserError(`--mlmd "${f.mlmd}" must be a plain file name (letters, digits, . _ -); it also names the git branch`);
  }
  // Checked before anything is created: the name is a file in the workspace root and a branch.
  if (!isValidBranchName(f.mlmd) || f.mlmd === 'HEAD') {
    throw new UserError(`--mlmd "${f.mlmd}" also names the git branch of the work, and git does not take it as a branch name (none is HEAD, starts with "." or "-", holds "..", or ends in ".lock"); choose another name, e.g. mlmd`);
  }
  if (WORKSPACE_ENTRIES.has(f.mlmd)) {
    throw new UserError(`--mlmd "${f.mlmd}" is the name of the workspace's own ${f.mlmd} folder; choose another name, e.g. mlmd`);
  }
  const workspace = resolveWorkspaceDir(f.workspace);
  const logger = createLogger();
  const identity: Record<string, string> = { sidecar_version: `cmf-sage ${VERSION}` };
  if (process.env.HOST) identity.HOST = process.env.HOST;
  if (process.env.WAGGLE_APP_ID) identity.WAGGLE_APP_ID = process.env.WAGGLE_APP_ID;
  if (f.node) identity.node = f.node;
  if (f.plugin) identity.plugin = f.plugin;
  identity.hostname = os.hostname();
  const argv = ['cmf-sage', ...process.argv.slice(2)];
  const rec = await Recorder.open({
    workspace,
    mlmdName: f.mlmd,
    pipeline: f.pipeline,
    stage: f.stage,
    executionType: f.executionType,
    modelPath: path.resolve(f.model),
    modelFramework: f.modelFramework,
    modelType: f.modelType,
    modelName: f.modelName,
    resultsDir: path.resolve(resultsDir),
    source: f.source,
    // Keep a remote configured earlier (e.g. by cmf init) unless one is given.
    dvcRemote: f.dvcRemote ?? (await readDefaultRemote(workspace).catch(() => undefined))?.url ?? defaultRemoteFor(workspace),
    gitRemote: f.gitRemote,
    windowMs: f.window * 1000,
    settleMs: f.settle * 1000,
    checkpointMs: 30_000,
    checkpointEntries: 20_000,
    segmentResults: f.segmentResults,
    identity,
    command: commandRepr(argv),
    logger,
  });
  const stop = new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  logger.info({ workspace, results: resultsDir, once: !!f.once }, 'watching');
  try {
    await runWatchLoop(rec, {
      resultsDir: path.resolve(resultsDir),
      modelPath: path.resolve(f.model),
      workspace,
      once: !!f.once,
      pollMs: 1000,
      settleMs: f.settle * 1000,
      logger,
      stop,
    });
  } finally {
    await rec.shutdown();
  }
  logger.info({ recorded: rec.recorded, hashed: rec.hashed }, 'stopped');
  if (f.once) {
    const { results, measurements } = rec.recordedKinds;
    process.stdout.write(`recorded ${results} result(s) and ${measurements} measurement(s) in ${workspace}\n`);
  }
}
