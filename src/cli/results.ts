import { Option, type Command } from 'commander';
import { UserError } from '../errors.js';
import { ModelSpecError, modelVersions, resolveModelSpec } from '../query/models.js';
import { queryResults, type ResultFilter } from '../query/results.js';
import { csvRenderer, formatResults, JsonRenderer, resultsCsv, resultsJson } from '../query/results-output.js';
import { nowNs, parseTimeSpec, TimeSpecError } from '../query/time-spec.js';
import { openSourcesForModel } from '../query/model-sources.js';
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
          models = versions.filter((v) => filter.models!.includes(v.md5));
          // From some segments only, "latest" would mean latest of those: label only what was asked.
          if (sources.partial) for (const v of models) [v.latest, v.previous] = [f.model === 'latest', f.model === 'previous'];
        }
        // Machine formats keep each row only as its text.
        if (f.csv) writeChunks(resultsCsv(queryResults(view, filter, csvRenderer())));
        else if (f.json) {
          const json = new JsonRenderer();
          const lines = queryResults(view, filter, json.render);
          writeChunks(resultsJson(lines, json.counts, { models, filter, sources: sources.files.map((x) => x.path) }));
        } else process.stdout.write(formatResults(queryResults(view, filter), { models, filter }));
        // With --model, only the segments that can hold that version are read.
      }, f.model === undefined ? undefined : (o) => openSourcesForModel(o, f.model!));
    });
}
