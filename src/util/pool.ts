/**
 * Map with at most `limit` calls in flight, results in input order. Used to
 * overlap the per-file fsyncs of a burst of results: the disk then commits
 * many of them together, which a one-at-a-time loop never lets it do.
 */
export async function mapPool<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
