/**
 * isomorphic-git deflates every object through the web CompressionStream
 * when the runtime has one. On Node 20 each call costs ~1.5 ms of stream
 * set-up, which made committing 10,000 pointers take 20 s; pako, the
 * fallback isomorphic-git already bundles, takes a third of that. It decides
 * once, at its first deflate, by probing the global, so the probe must fail.
 * Nothing else in cmf-sage uses CompressionStream.
 */
export function preferPakoDeflate(): void {
  const g = globalThis as { CompressionStream?: unknown };
  if (g.CompressionStream !== undefined) g.CompressionStream = undefined;
}

preferPakoDeflate();
