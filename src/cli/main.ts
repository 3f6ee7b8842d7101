import { Command, CommanderError } from 'commander';
import { UserError } from '../errors.js';
import { VERSION } from '../version.js';
import { registerWatch } from './watch.js';
import { registerStatus } from './status.js';
import { registerModels } from './models.js';
import { registerResults } from './results.js';
import { registerLineage } from './lineage.js';
import { registerGraph } from './graph.js';
import { registerExport } from './export.js';
import { registerPush } from './push.js';

/** Entry point: parse, run one command, turn errors into one line + exit code. */
export async function main(argv: string[]): Promise<void> {
  const program = new Command();
  program
    .name('cmf-sage')
    .description('Record CMF lineage (git + DVC + MLMD) beside a Waggle/Sage plugin')
    .version(VERSION)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => process.stdout.write(s),
      writeErr: (s) => process.stderr.write(s),
    });
  registerWatch(program);
  registerStatus(program);
  registerModels(program);
  registerResults(program);
  registerLineage(program);
  registerGraph(program);
  registerExport(program);
  registerPush(program);
  try {
    await program.parseAsync(argv);
  } catch (err) {
    process.exitCode = exitCodeFor(err);
  }
}

function exitCodeFor(err: unknown): number {
  if (err instanceof CommanderError) {
    // help and version are "errors" to commander but successes to a person
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0;
    return 2;
  }
  if (err instanceof UserError) {
    process.stderr.write(`cmf-sage: ${err.message}\n`);
    return err.exitCode;
  }
  const e = err as Error;
  process.stderr.write(`cmf-sage: internal error: ${e?.stack ?? String(err)}\n`);
  return 70;
}
