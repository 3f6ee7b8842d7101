import { Command, CommanderError } from 'commander';
import { describeFsError, UserError } from '../errors.js';
import { VERSION } from '../version.js';
import { printable } from '../util/printable.js';

/**
 * Each command's module, loaded only when that command runs: loading them all
 * (sql.js, isomorphic-git, amqplib, undici, ...) cost ~0.3 s and ~15 MB per
 * start, which a cron job, a status call or an idle watch should not pay.
 */
const COMMANDS: Record<string, () => Promise<(program: Command) => void>> = {
  watch: async () => (await import('./watch.js')).registerWatch,
  status: async () => (await import('./status.js')).registerStatus,
  models: async () => (await import('./models.js')).registerModels,
  results: async () => (await import('./results.js')).registerResults,
  lineage: async () => (await import('./lineage.js')).registerLineage,
  graph: async () => (await import('./graph.js')).registerGraph,
  export: async () => (await import('./export.js')).registerExport,
  push: async () => (await import('./push.js')).registerPush,
};

/** The commands to register: the one named on the command line, or all (for help and for commander's "unknown command" hint). */
async function commandsFor(argv: string[]): Promise<((program: Command) => void)[]> {
  const named = argv[2];
  if (named === '--version' || named === '-V') return [];
  const only = named !== undefined && Object.hasOwn(COMMANDS, named) ? [named] : Object.keys(COMMANDS);
  return Promise.all(only.map((name) => COMMANDS[name]!()));
}

/** Entry point: parse, run one command, turn errors into one line + exit code. */
export async function main(argv: string[]): Promise<void> {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    // `cmf-sage results --json | head`: the reader left, which is not an error of ours; stop quietly.
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    // `> /dev/full`, a full disk: one line, as for any other write.
    const e = describeFsError(err, 'writing the output');
    process.stderr.write(`cmf-sage: ${e.message}\n`);
    process.exit(e.exitCode);
  });
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
  for (const register of await commandsFor(argv)) register(program);
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
    // Messages quote files, servers and plugin output: their control characters stay visible and on one line.
    process.stderr.write(`cmf-sage: ${printable(err.message)}\n`);
    return err.exitCode;
  }
  const e = err as Error;
  process.stderr.write(`cmf-sage: internal error: ${e?.stack ?? String(err)}\n`);
  return 70;
}
