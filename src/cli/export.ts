import path from 'node:path';
import { Option, type Command } from 'commander';
import { UserError } from '../errors.js';
import { MlmdStore } from '../mlmd/index.js';
import { readMlmdForQuery } from '../query/mlmd-file.js';
import { openSnapshot } from '../query/snapshot.js';
import { listSegments, loadSegmentMlmd } from '../recorder/segment.js';
import { dumpToJsonMerged, pipelineNames } from '../server/payload.js';
import { resolveWorkspaceDir, writeOutFile } from './common.js';
import { segmentNames, segmentsDir } from '../workspace/segments.js';

interface ExportFlags {
  format: 'cmf-json';
  out?: string;
  workspace?: string;
  mlmd?: string;
  segment?: string;
  file?: string;
  pipeline?: string;
  all?: boolean;
}

/**
 * `cmf-sage export --format cmf-json`: the `json_payload` that `push --to
 * cmf-server` sends (cmflib's `dumptojson` text, byte for byte), for a proxy
 * that forwards it or for a person to read.
 */
export function registerExport(program: Command): void {
  program
    .command('export')
    .description("write the metadata as cmf-server receives it (cmflib's dumptojson text), for a proxy or for inspection")
    .addOption(new Option('--format <format>', 'output format').choices(['cmf-json']).makeOptionMandatory())
    .option('--out <file>', 'write to FILE (replaced atomically) instead of stdout')
    .option('--workspace <dir>', 'cmf workspace (default: $CMF_SAGE_WORKSPACE or ./cmf-workspace); default source: its live mlmd plus the journal')
    .option('--mlmd <name>', 'mlmd file name in the workspace (default: the one watch used)')
    .option('--segment <seq>', 'export one sealed segment (.cmf-sage/segments/<seq>) instead of the live mlmd')
    .addOption(new Option('--all', 'the whole pipeline: every sealed segment plus the live mlmd').conflicts(['segment']))
    .addOption(new Option('--file <path>', 'export this MLMD file instead (any schema-10 file, e.g. one cmflib made)').conflicts(['workspace', 'mlmd', 'segment', 'all']))
    .option('--pipeline <name>', 'pipeline to export (default: the workspace pipeline, or the only one in the file)')
    .action(async (f: ExportFlags) => {
      const { stores, pipeline, source } = await openStores(f);
      try {
        const names = new Set(stores.flatMap((s) => pipelineNames(s)));
        const chosen = f.pipeline ?? pipeline ?? (names.size === 1 ? [...names][0] : undefined);
        if (!chosen) {
          throw new UserError(`${source} holds ${names.size ? `several pipelines (${[...names].join(', ')})` : 'no pipeline'}; name one with --pipeline`);
        }
        if (!names.has(chosen)) {
          throw new UserError(`${source} has no pipeline named "${chosen}"${names.size ? ` (it has: ${[...names].join(', ')})` : ''}`);
        }
        const payload = dumpToJsonMerged(stores, chosen);
        if (f.out) await writeOutFile(f.out, payload, f.file ? { inputs: [f.file] } : { workspace: resolveWorkspaceDir(f.workspace) });
        else process.stdout.write(payload + '\n');
      } finally {
        for (const s of stores) s.close();
      }
    });
}

async function openStores(f: ExportFlags): Promise<{ stores: MlmdStore[]; pipeline?: string; source: string }> {
  if (f.file) {
    const file = path.resolve(f.file);
    // The reader's loader: a missing, empty or non-MLMD file is refused by name (loadMlmd would start a new store).
    return { stores: [new MlmdStore(await readMlmdForQuery(file))], source: file };
  }
  const ws = resolveWorkspaceDir(f.workspace);
  if (f.segment !== undefined) {
    const want = f.segment.trim();
    const seg = (await listSegments(ws)).find((s) => s.manifest.segment === want || (/^\d+$/.test(want) && Number(s.manifest.segment) === Number(want)));
    if (!seg) {
      const folder = (await segmentNames(ws)).find((n) => /^\d+$/.test(want) && Number(n) === Number(want));
      if (folder) throw damagedSegments(ws, [folder]);
      throw new UserError(`no sealed segment "${want}" in ${ws}; "cmf-sage status" counts the segments`);
    }
    return { stores: [await loadSegmentMlmd(seg.dir, 'exported')], pipeline: seg.manifest.pipeline, source: `segment ${seg.manifest.segment}` };
  }
  const snap = await openSnapshot(ws, f.mlmd);
  const stores: MlmdStore[] = [];
  try {
    if (f.all && snap.unreadableSegments.length) throw damagedSegments(ws, snap.unreadableSegments);
    if (f.all) for (const seg of snap.segments) stores.push(await loadSegmentMlmd(seg.dir, 'exported'));
  } catch (err) {
    for (const s of stores) s.close();
    snap.store.close();
    throw err;
  }
  stores.push(snap.store);
  return { stores, pipeline: snap.settings?.pipeline, source: snap.ws.mlmdFile };
}

/** Kept segment folders whose manifest cannot be read: exporting around them would leave their lineage out. */
function damagedSegments(ws: string, names: string[]): UserError {
  return new UserError(
    `segment folder(s) ${names.join(', ')} in ${segmentsDir(ws)} have no readable manifest.json, so their lineage cannot be exported; restore them from a backup, or move them out of that folder`,
    70,
  );
}
