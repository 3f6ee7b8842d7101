import { Command, Option, InvalidArgumentError } from 'commander';
import { UserError } from '../errors.js';
import { createLogger } from '../log.js';
import { sealForPush } from '../recorder/offline.js';
import { formatSealPreview, previewSeal, push, requireWorkspace, resolveTarget, withPushLock, type KeepCache, type PushSummary } from '../push/index.js';
import { resolveWorkspaceDir } from './common.js';
import { cmfServerUrl, deliverToCmfServer, formatPlan, planCmfServerDelivery } from '../server/deliver.js';
import { ttyProgress } from '../server/progress.js';

interface PushFlags {
  workspace?: string;
  to?: string;
  dryRun?: boolean;
  json?: boolean;
  keepSegments?: number;
  keepCache: KeepCache;
  attempts: number;
  seal: boolean;
  cmfServer?: string;
  git?: boolean;
  tokenFile?: string;
}

function wholeNumber(min: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`expected a whole number of at least ${min}`);
    return n;
  };
}

export function registerPush(program: Command): void {
  program
    .command('push')
    .description('deliver sealed segments as cmf archives to the Waggle datastore (run from cron beside watch)')
    .option('--workspace <dir>', 'cmf workspace (default: $CMF_SAGE_WORKSPACE or ./cmf-workspace)')
    .option('--to <target>', 'waggle | logdir | dir:PATH | cmf-server (default: waggle on a node, logdir when only PYWAGGLE_LOG_DIR is set)')
    .option('--cmf-server <url>', 'with --to cmf-server: server URL (default: $CMF_SERVER_URL, else .cmfconfig server-url)')
    .option('--git', 'with --to cmf-server: also push the work branch to cmf_origin (token: $CMF_SAGE_GIT_TOKEN)')
    .option('--token-file <file>', 'with --to cmf-server: Bearer token for an HTTP DVC remote (else $CMF_SAGE_REMOTE_TOKEN)')
    .option('--dry-run', 'list what would be sent where; write nothing')
    .option('--json', 'one JSON summary on stdout')
    .option('--keep-segments <n>', 'after delivery keep only the newest N delivered segment folders (default: keep all)', wholeNumber(0))
    .addOption(new Option('--keep-cache <what>', 'after delivery keep which cache objects of delivered segments').choices(['none', 'model', 'all']).default('model'))
    .option('--no-seal', 'deliver only segments sealed already (default: first seal closed executions, asking a running watch)')
    .option('--attempts <n>', 'tries per segment before giving up (waits 1, 2, 4 s between)', wholeNumber(1), 3)
    .action(async (f: PushFlags) => {
      const logger = createLogger();
      const root = resolveWorkspaceDir(f.workspace);
      if (f.to === 'cmf-server') return pushToCmfServer(root, f, logger);
      const serverOnly = [f.cmfServer !== undefined && '--cmf-server', f.git && '--git', f.tokenFile !== undefined && '--token-file'].filter(Boolean);
      if (serverOnly.length) throw new UserError(`${serverOnly.join(', ')} only apply to --to cmf-server; drop ${serverOnly.length > 1 ? 'them' : 'it'} or pass --to cmf-server`, 2);
      const target = resolveTarget(f.to);
      await requireWorkspace(root);
      await target.preflight(root); // before sealing: a push that cannot deliver changes nothing
      const run = async () => {
        // Closed executions still in the live mlmd go into a segment first (a running
        // watch is asked to do it), so a cron'd push delivers everything recorded so far.
        if (f.seal && !f.dryRun) await sealForPush(root, logger, { command: 'cmf-sage push' });
        return push({ root, target, dryRun: f.dryRun, keepSegments: f.keepSegments, keepCache: f.keepCache, attempts: f.attempts, logger });
      };
      const { summary, failure } = f.dryRun ? await run() : await withPushLock(root, logger, run);
      if (f.dryRun && f.seal) summary.toSeal = await previewSeal(root);
      process.stdout.write(f.json ? JSON.stringify(summary, null, 2) + '\n' : formatSummary(summary));
      if (failure) throw failure;
    });
}

/** `--to cmf-server`: artifacts to the DVC remote, code to git, metadata to the server. */
async function pushToCmfServer(root: string, f: PushFlags, logger: ReturnType<typeof createLogger>): Promise<void> {
  await requireWorkspace(root);
  const server = await cmfServerUrl(root, f.cmfServer);
  const o = { workspace: root, server, git: !!f.git, tokenFile: f.tokenFile };
  if (f.dryRun) {
    const plans = await planCmfServerDelivery(o);
    const toSeal = f.seal ? await previewSeal(root) : undefined;
    process.stdout.write(
      f.json
        ? JSON.stringify({ target: { kind: 'cmf-server', where: server }, dryRun: true, toSeal, segments: plans }, null, 2) + '\n'
        : [...formatSealPreview(toSeal), formatPlan(plans, (toSeal?.executions ?? 0) > 0)].join('\n'),
    );
    return;
  }
  const progress = ttyProgress();
  try {
    const done = await withPushLock(root, logger, async () => {
      if (f.seal) await sealForPush(root, logger, { command: 'cmf-sage push' });
      return deliverToCmfServer({ ...o, logger, onProgress: progress.onProgress });
    });
    process.stdout.write(
      f.json
        ? JSON.stringify(done, null, 2) + '\n'
        : done.length === 0
          ? `nothing to push to ${server}\n`
          : done.map((d) => `delivered segment ${d.segment} (${d.executions} executions) to ${server}`).join('\n') + '\n',
    );
  } finally {
    progress.end();
  }
}

function size(n: number | undefined): string {
  if (n === undefined) return '?';
  if (n < 1024) return `${n} B`;
  if (n < 1 << 20) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1 << 30) return `${(n / (1 << 20)).toFixed(1)} MiB`;
  return `${(n / (1 << 30)).toFixed(2)} GiB`;
}

function formatSummary(s: PushSummary): string {
  const lines: string[] = formatSealPreview(s.toSeal);
  for (const r of s.segments) {
    const what = `${r.archive || `segment ${r.segment}`} (${size(r.size)}, ${r.executions} execution(s), ${r.counts.Dataset} result file(s), ${r.counts.Metrics} measurement(s))`;
    if (r.status === 'would-send') lines.push(`would send ${what} to ${s.target.kind}: ${r.location}`);
    else if (r.status === 'delivered') lines.push(`delivered ${what} to ${s.target.kind}: ${r.location}${r.possibleDuplicate ? ' (the broker may have the message twice)' : ''}`);
    else if (r.status === 'failed') lines.push(`not delivered: ${what}`);
    else lines.push(`not attempted: segment ${r.segment}`);
  }
  if (s.segments.length === 0 && !s.toSeal?.executions) lines.push(`nothing to push (${s.alreadyDelivered} segment(s) already delivered to ${s.target.kind})`);
  if (s.pruned.segments.length) lines.push(`removed delivered segment folder(s) ${s.pruned.segments.join(', ')}`);
  if (s.pruned.cacheObjects) lines.push(`removed ${s.pruned.cacheObjects} cache object(s) of delivered segments (${size(s.pruned.cacheBytes)})`);
  return lines.join('\n') + '\n';
}
