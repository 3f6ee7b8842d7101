// A separate process for the server tests: deliveries that a crash point may
// kill with SIGKILL, and uploads whose peak memory is measured (VmHWM).
//   node dist/test/server-child.js '<json job>'
// Prints one JSON line with the result, or exits with the UserError's code.
import { readFileSync } from 'node:fs';
import { createLogger } from '../src/log.js';
import { UserError } from '../src/errors.js';
import { pushArtifacts } from '../src/server/artifacts.js';
import { deliverToCmfServer, type CmfServerOptions } from '../src/server/deliver.js';

type Job =
  | ({ mode: 'deliver' } & Omit<CmfServerOptions, 'logger'>)
  | { mode: 'artifacts'; workspace: string; objects: string[]; remote: { name: string; url: string; options: Record<string, string> }; token?: string; verify?: 'auto' | 'always' };

function peakRssMb(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2]!) as Job;
  const logger = createLogger();
  if (job.mode === 'artifacts') {
    const r = await pushArtifacts({ ...job, logger });
    process.stdout.write(JSON.stringify({ ...r, peakRssMb: peakRssMb() }) + '\n');
    return;
  }
  const { mode: _m, ...opts } = job;
  const r = await deliverToCmfServer({ ...opts, logger });
  process.stdout.write(JSON.stringify({ delivered: r, peakRssMb: peakRssMb() }) + '\n');
}

main().catch((err) => {
  if (err instanceof UserError) {
    process.stderr.write(`cmf-sage: ${err.message}\n`);
    process.exit(err.exitCode);
  }
  process.stderr.write(`internal error: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(70);
});
