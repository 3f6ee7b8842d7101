import { pushBench } from '../push.js';
import type { PhaseCtx } from './context.js';

/**
 * Issue 7's figures: artifacts to a real nginx WebDAV remote against `curl -T`
 * of the same files in the same run, and a 10k-result metadata push to the
 * cmf-server contract double (see bench/push.ts).
 */
export async function pushPhase(ctx: PhaseCtx): Promise<Record<string, unknown>> {
  const r = await pushBench(ctx.quick ? { files: 4, fileMb: 16, runs: 3, metadataRuns: 1 } : {});
  ctx.progress(`push: ${r.push_mb_per_s} MB/s vs curl ${r.curl_mb_per_s} MB/s`);
  return { ...r };
}
