/**
 * Preloaded into a watch process by `--mem-trace` (node --import): every
 * second, append one JSON line with process.memoryUsage() in MB to
 * CMF_BENCH_MEMTRACE_DIR/run<N>-<pid>.ndjson. RSS minus the V8 heap and external memory is
 * mostly sql.js's WebAssembly memory and native code. Diagnostic only: it
 * does not touch cmf-sage's code.
 */
import { appendFileSync } from 'node:fs';
import path from 'node:path';

const dir = process.env.CMF_BENCH_MEMTRACE_DIR;
const file = dir ? path.join(dir, `run${process.env.CMF_BENCH_RUN ?? '1'}-${process.pid}.ndjson`) : undefined;
if (file) {
  const mb = (n: number) => Math.round((n / 2 ** 20) * 10) / 10;
  const t = setInterval(() => {
    const m = process.memoryUsage();
    appendFileSync(
      file,
      JSON.stringify({ t: Date.now(), rss: mb(m.rss), heapTotal: mb(m.heapTotal), heapUsed: mb(m.heapUsed), external: mb(m.external), arrayBuffers: mb(m.arrayBuffers) }) + '\n',
    );
  }, 1000);
  t.unref();
}
