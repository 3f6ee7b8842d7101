import { Option, type Command } from 'commander';
import { damagedFileError } from '../query/mlmd-file.js';
import { modelVersions } from '../query/models.js';
import { formatModels, modelJson } from '../query/models-output.js';
import { openSources, type OpenedSources, type SourceOptions } from '../query/sources.js';
import { LineageView } from '../query/view.js';
import { resolveWorkspaceDir } from './common.js';

/** Where the query commands read from (shared by models, results, lineage and graph). */
export interface SourceFlags {
  workspace?: string;
  mlmd?: string;
  file?: string;
}

export function addSourceOptions(cmd: Command): Command {
  return cmd
    .option('--workspace <dir>', 'cmf workspace: its mlmd (with the journal) and kept segments (default: $CMF_SAGE_WORKSPACE or ./cmf-workspace)')
    .option('--mlmd <name>', 'mlmd file name in the workspace (default: the one watch used)')
    .addOption(new Option('--file <path>', 'read this MLMD file instead (any schema-10 file, e.g. one cmflib made)').conflicts(['workspace', 'mlmd']));
}

/** Open the sources, build the view, run `fn`, and free everything whatever happens. */
export async function withView<T>(
  f: SourceFlags,
  counts: boolean,
  fn: (view: LineageView, sources: OpenedSources) => Promise<T> | T,
  open: (o: SourceOptions) => Promise<OpenedSources> = openSources,
): Promise<T> {
  const sources = await open({ workspace: resolveWorkspaceDir(f.workspace), mlmd: f.mlmd, file: f.file });
  let view: LineageView | undefined;
  try {
    view = LineageView.load(sources.files, { counts });
    return await fn(view, sources);
  } catch (err) {
    // files are not integrity-scanned on load (too slow for 100k results): a damaged page surfaces here
    throw damagedFileError(err, sources.describe) ?? err;
  } finally {
    view?.close();
    sources.close();
  }
}

/** Write many small pieces as a few large writes (100k rows would otherwise be 100k syscalls); buffers go as they are. */
export function writeChunks(chunks: Iterable<string | Buffer>, out: NodeJS.WritableStream = process.stdout): void {
  let buf: string[] = [];
  let size = 0;
  const flush = () => {
    if (buf.length) out.write(buf.join(''));
    buf = [];
    size = 0;
  };
  for (const c of chunks) {
    if (typeof c !== 'string') {
      flush();
      out.write(c);
      continue;
    }
    buf.push(c);
    size += c.length;
    if (size >= 1 << 20) flush();
  }
  flush();
}

export const JSON_HELP = 'one JSON value for scripts; int64 values (ns timestamps) are strings so they stay exact';

export function registerModels(program: Command): void {
  addSourceOptions(
    program
      .command('models')
      .description('every model version seen, most recently used first: md5, path, first and last use, executions, results, metrics'),
  )
    .option('--json', JSON_HELP)
    .action(async (f: SourceFlags & { json?: boolean }) => {
      await withView(f, true, (view, sources) => {
        const versions = modelVersions(view);
        process.stdout.write(
          f.json ? JSON.stringify({ sources: sources.files.map((x) => x.path), models: versions.map(modelJson) }, null, 2) + '\n' : formatModels(versions),
        );
      });
    });
}
