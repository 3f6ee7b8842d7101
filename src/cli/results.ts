import { Option, type Command } from 'commander';
import { UserError } from '../errors.js';
import { ModelSpecError, modelVersions, resolveModelSpec, type ModelVersion } from '../query/models.js';
import { queryResults, RowList, type ResultFilter, type ResultRow, type RowStore } from '../query/results.js';
import { streamResults } from '../query/results-stream.js';
import { csvRows, formatResults, JsonRenderer, resultsCsv, resultsJson } from '../query/results-output.js';
import type { RenderedRows } from '../query/text-rows.js';
import { nowNs, parseTimeSpec, TimeSpecError } from '../query/time-spec.js';
import { openSourcesForModel, planResults } from '../query/model-sources.js';
import { resolveWorkspaceDir } from './common.js';
import { addSourceOptions, JSON_HELP, withView, writeChunks, type SourceFlags } from './models.js';

interface ResultsFlags extends SourceFlags {
  model?: string;
  since?: string;
  until?: string;
  name?: string;
  json?: boolean;
  csv?: boolean;
}

function time(flag: string, text: string | undefined, now: bigint): bigint | undefined {
  if (text === undefined) return undefined;
  try {
    return parseTimeSpec(text, now);
  } catch (err) {
    if (err instanceof TimeSpecError) throw new UserError(`${flag}: ${err.message}`, 2);
    throw err;
  }
}

export function registerResults(program: Command): void {
  addSourceOptions(
    program
      .command('results')
      .description('the results and measurements a model version produced, one row each, oldest first, with the key to find each in Sage'),
  )
    .option('--model <spec>', 'md5 (or a unique prefix), model path, "latest" or "previous" (default: every version)')
    .option('--since <time>', 'from this time: ISO 8601 (no zone = UTC), epoch ns, or relative (-30s, -15m, -2h, -7d)')
    .option('--until <time>', 'up to this time (same forms)')
    .option('--name <name>', 'Sage name: a measurement name, or "upload" for result files; * matches anything')
    .addOption(new Option('--json', JSON_HELP).conflicts('csv'))
    .addOption(new Option('--csv', 'RFC 4180 CSV with a header line'))
    .addHelpText('after', '\nExit codes: 0 ok (also when no row matches), 1 no such model version, 2 bad input (e.g. a TIME or file it cannot read).')
    .action(async (f: ResultsFlags) => {
      const now = nowNs();
      const filter: ResultFilter = { sinceNs: time('--since', f.since, now), untilNs: time('--until', f.until, now), name: f.name };
      if (filter.sinceNs !== undefined && filter.untilNs !== undefined && filter.sinceNs > filter.untilNs) {
        throw new UserError(`--since ${f.since} is later than --until ${f.until}: no time is both; swap them`, 2);
      }
      const out = new Output(f);
      // A workspace is read one file at a time when its segment summaries allow; else as one view.
      const plan = f.file === undefined ? await planResults({ workspace: resolveWorkspaceDir(f.workspace), mlmd: f.mlmd }, f.model) : undefined;
      if (plan) {
        try {
          filter.models = plan.models;
          const got = await streamResults(plan, filter, out.store());
          out.print(got.items, f.model === undefined ? null : labelled(got.versions, filter, f.model, plan.partial), filter, got.sources);
        } finally {
          plan.close();
        }
        return;
      }
      await withView(f, false, (view, sources) => {
        let models = null;
        if (f.model !== undefined) {
          const versions = modelVersions(view);
          try {
            filter.models = resolveModelSpec(f.model, versions, view.executions);
          } catch (err) {
            if (err instanceof ModelSpecError) throw new UserError(err.message, 1);
            throw err;
          }
          models = labelled(versions, filter, f.model, sources.partial === true);
        }
        out.print(queryResults(view, filter, out.store()), models, filter, sources.files.map((x) => x.path));
      }, f.model === undefined ? undefined : (o) => openSourcesForModel(o, f.model!));
    });
}

/** The versions a --model filter kept. From some segments only, "latest" would mean latest of those: label only what was asked. */
function labelled(versions: ModelVersion[], filter: ResultFilter, spec: string, partial: boolean): ModelVersion[] {
  const models = versions.filter((v) => filter.models!.includes(v.md5));
  if (partial) for (const v of models) [v.latest, v.previous] = [spec === 'latest', spec === 'previous'];
  return models;
}

/** The chosen format: rows become their text as they are read (machine formats) or stay rows (the table). */
class Output {
  private readonly json?: JsonRenderer;

  constructor(private readonly f: ResultsFlags) {
    if (f.json) this.json = new JsonRenderer();
  }

  store(): RowStore<RenderedRows | ResultRow[]> {
    return this.f.csv ? csvRows() : this.json ? this.json.rows() : new RowList();
  }

  print(items: RenderedRows | ResultRow[], models: ModelVersion[] | null, filter: ResultFilter, sources: string[]): void {
    if (this.f.csv) writeChunks(resultsCsv(items as RenderedRows));
    else if (this.json) writeChunks(resultsJson(items as RenderedRows, this.json.counts, { models, filter, sources }));
    else process.stdout.write(formatResults(items as ResultRow[], { models, filter }));
  }
}
