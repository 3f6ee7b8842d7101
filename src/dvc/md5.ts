/** A DVC 3 file-object id: 32 lowercase hex digits (directories add `.dir`, not handled here). */
const MD5_RE = /^[0-9a-f]{32}$/;

export function isMd5(s: string): boolean {
  return MD5_RE.test(s);
}

/** Throw a readable error instead of building a path from garbage (e.g. `../`). */
export function assertMd5(s: string, what = 'md5'): void {
  if (!isMd5(s)) throw new Error(`${what} must be 32 lowercase hex digits, got ${JSON.stringify(s)}`);
}

/** `<md5[0:2]>/<md5[2:]>`: the two-level fan-out DVC uses in caches and remotes. */
export function objectKey(md5: string): [string, string] {
  assertMd5(md5);
  return [md5.slice(0, 2), md5.slice(2)];
}
