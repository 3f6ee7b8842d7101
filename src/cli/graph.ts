import path from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { UserError } from '../errors.js';
import { buildGraph, DEFAULT_MAX_EXECUTION_NODES } from '../query/graph.js';
import { toHtml } from '../query/graph-html.js';
import { toDot, toMermaid } from '../query/graph-text.js';
import { ModelSpecError, modelVersions, resolveModelSpec } from '../query/models.js';
import { nowNs } from '../query/time-spec.js';
import { VERSION } from '../version.js';
import { addSourceOptions, withView, type SourceFlags } from './models.js';
import { resolveWorkspaceDir, writeOutFile } from './common.js';

type Format = 'mermaid' | 'dot' | 'html';

interface GraphFlags extends SourceFlags {
  model?: string;
  format?: Format;
  out?: string;
  maxExecutions: number;
}

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number of 1 or more');
  return n;
}

/** Picture formats a person may expect from the extension, which this command does not draw itself. */
const RENDERED = new Set(['.svg', '.png', '.pdf', '.jpg', '.jpeg']);

/** --format, else from --out's extension, else Mermaid. */
function formatFor(f: GraphFlags): Format {
  if (f.format) return f.format;
  const ext = f.out ? path.extname(f.out).toLowerCase() : '';
  if (ext === '.html' || ext === '.htm') return 'html';
  if (ext === '.dot' || ext === '.gv') return 'dot';
  if (RENDERED.has(ext)) {
    throw new UserError(
      `--out ${f.out}: graph writes Mermaid, Graphviz dot or an HTML page, not ${ext.slice(1).toUpperCase()}; use --out lineage.html, or render dot yourself: cmf-sage graph --format dot | dot -T${ext.slice(1)} > ${path.basename(f.out!)}`,
      2,
    );
  }
  return 'mermaid';
}

export function registerGraph(program: Command): void {
  addSourceOptions(
    program
      .command('graph')
      .description('the lineage picture: pipeline, stage, executions, model versions and their results, as Mermaid, Graphviz dot or an offline HTML page'),
  )
    .option('--model <spec>', 'only this model version: md5 (or a unique prefix), path, "latest" or "previous"')
    .addOption(new Option('--format <format>', 'mermaid, dot or html (default: from --out, else mermaid)').choices(['mermaid', 'dot', 'html']))
    .option('--out <file>', 'write to this file instead of stdout')
    .option('--max-executions <n>', 'draw executions one by one up to this many, then group them per stage and model version', positiveInt, DEFAULT_MAX_EXECUTION_NODES)
    .action(async (f: GraphFlags) => {
      const format = formatFor(f);
      const text = await withView(f, true, (view, sources) => {
        let models: string[] | undefined;
        if (f.model !== undefined) {
          try {
            models = resolveModelSpec(f.model, modelVersions(view), view.executions);
          } catch (err) {
            if (err instanceof ModelSpecError) throw new UserError(err.message, 1);
            throw err;
          }
        }
        const g = buildGraph(view, { models, maxExecutionNodes: f.maxExecutions });
        if (format === 'dot') return toDot(g);
        if (format === 'html') return toHtml(g, { sources: sources.files.map((x) => x.path), generatedNs: nowNs(), version: VERSION });
        return toMermaid(g);
      });
      if (f.out === undefined) {
        process.stdout.write(text);
        return;
      }
      const file = await writeOutFile(f.out, text, f.file ? { inputs: [f.file] } : { workspace: resolveWorkspaceDir(f.workspace) });
      process.stdout.write(`wrote ${format} lineage graph to ${file}\n`);
    });
}
