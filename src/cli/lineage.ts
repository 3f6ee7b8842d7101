import type { Command } from 'commander';
import { UserError } from '../errors.js';
import { TargetNotFoundError, traceLineage } from '../query/lineage.js';
import { formatLineage, lineageJson } from '../query/lineage-output.js';
import { resolveWorkspaceDir } from './common.js';
import { addSourceOptions, JSON_HELP, withView, type SourceFlags } from './models.js';

export function registerLineage(program: Command): void {
  addSourceOptions(
    program
      .command('lineage')
      .argument('<target>', 'a result file or its path in the workspace, an md5, a sha1, a <ts_ns>-<filename> key, a Sage storage URL ending in one, or a <name>@<ts_ns> measurement key')
      .description('how a result came to be: result → execution (window, node, git commits) → model version → stage and pipeline'),
  )
    .option('--json', JSON_HELP)
    .addHelpText('after', '\nExit codes: 0 found, 1 nothing recorded matches TARGET, 2 bad input (e.g. not an MLMD file).')
    .action(async (target: string, f: SourceFlags & { json?: boolean }) => {
      if (target.trim() === '') throw new UserError('lineage needs a TARGET: a result file path, an md5, a <ts_ns>-<filename> key or a storage URL ending in one', 2);
      await withView(f, false, async (view) => {
        let rep;
        try {
          rep = await traceLineage(view, target, { workspace: f.file === undefined ? resolveWorkspaceDir(f.workspace) : undefined });
        } catch (err) {
          if (err instanceof TargetNotFoundError) throw new UserError(err.message, 1);
          throw err;
        }
        process.stdout.write(f.json ? JSON.stringify(lineageJson(rep), null, 2) + '\n' : formatLineage(rep));
      });
    });
}
