import type { Command } from 'commander';
import { openSnapshot } from '../query/snapshot.js';
import { readMlmdForQuery } from '../query/mlmd-file.js';
import { formatStatus, statusReport } from '../query/status.js';
import { resolveWorkspaceDir } from './common.js';
import { pushStatus } from '../push/status.js';

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description('show what a workspace has recorded')
    .option('--workspace <dir>', 'cmf workspace (default: $CMF_SAGE_WORKSPACE or ./cmf-workspace)')
    .option('--mlmd <name>', 'mlmd file name (default: the one watch used)')
    .option('--json', 'one JSON object for scripts')
    .action(async (f: { workspace?: string; mlmd?: string; json?: boolean }) => {
      const snap = await openSnapshot(resolveWorkspaceDir(f.workspace), f.mlmd, { load: readMlmdForQuery });
      const report = { ...statusReport(snap), push: await pushStatus(snap.ws.root) };
      process.stdout.write(f.json ? JSON.stringify(report, null, 2) + '\n' : formatStatus(report));
    });
}
