/**
 * A minimal, deterministic POSIX tar (ustar + pax) header writer. Everything
 * that tar tools usually take from the file system (owner, group, times,
 * modes, entry order) is passed in by the caller, so the same input gives the
 * same bytes on every machine and every retry. Contents are streamed by the
 * caller between header() and padding().
 */

export const BLOCK = 512;
/** GNU tar and Python's tarfile write archives in records of 20 blocks. */
export const RECORD = 20 * BLOCK;

export interface TarHeader {
  /** POSIX path inside the archive, no leading `/`; directories without the trailing `/`. */
  path: string;
  type: 'file' | 'dir';
  mode: number;
  size: number;
  /** Seconds since the epoch. */
  mtime: number;
}

const USTAR_MAX_SIZE = 0o77777777777; // 11 octal digits

function octal(n: number, width: number): string {
  // width includes the terminating NUL
  return n.toString(8).padStart(width - 1, '0') + '\0';
}

function put(buf: Buffer, offset: number, width: number, text: string): void {
  const bytes = Buffer.from(text, 'latin1');
  if (bytes.length > width) throw new Error(`tar field too long: ${text}`);
  bytes.copy(buf, offset);
}

function ustarBlock(name: string, typeflag: string, mode: number, size: number, mtime: number): Buffer {
  const b = Buffer.alloc(BLOCK, 0);
  put(b, 0, 100, name);
  put(b, 100, 8, octal(mode, 8));
  put(b, 108, 8, octal(0, 8)); // uid
  put(b, 116, 8, octal(0, 8)); // gid
  put(b, 124, 12, octal(Math.min(size, USTAR_MAX_SIZE), 12));
  put(b, 136, 12, octal(mtime, 12));
  b.fill(0x20, 148, 156); // checksum field counts as spaces
  put(b, 156, 1, typeflag);
  put(b, 257, 6, 'ustar\0');
  put(b, 263, 2, '00');
  // uname, gname empty; devmajor/devminor zero as octal like GNU tar
  put(b, 329, 8, octal(0, 8));
  put(b, 337, 8, octal(0, 8));
  let sum = 0;
  for (const byte of b) sum += byte;
  put(b, 148, 8, sum.toString(8).padStart(6, '0') + '\0 ');
  return b;
}

/** One pax record: "<len> <key>=<value>\n", where len counts the whole record. */
function paxRecord(key: string, value: string): Buffer {
  const body = ` ${key}=${value}\n`;
  const bodyLen = Buffer.byteLength(body, 'utf8');
  let len = bodyLen + 1;
  while (String(len).length + bodyLen !== len) len = String(len).length + bodyLen;
  return Buffer.from(`${len}${body}`, 'utf8');
}

function isPlainAscii(s: string): boolean {
  return /^[\x20-\x7e]*$/.test(s);
}

/** Pad `n` bytes of content up to the next block. */
export function padding(n: number): Buffer {
  const rest = n % BLOCK;
  return rest === 0 ? Buffer.alloc(0) : Buffer.alloc(BLOCK - rest, 0);
}

/**
 * Header block(s) for one entry: a pax extended header first when the name
 * does not fit ustar's 100 bytes (or is not ASCII) or the size exceeds 8 GiB.
 */
export function header(h: TarHeader): Buffer {
  const name = h.type === 'dir' ? `${h.path}/` : h.path;
  const typeflag = h.type === 'dir' ? '5' : '0';
  const size = h.type === 'dir' ? 0 : h.size;
  const records: Buffer[] = [];
  const fits = isPlainAscii(name) && name.length <= 100;
  if (!fits) records.push(paxRecord('path', name));
  if (size > USTAR_MAX_SIZE) records.push(paxRecord('size', String(size)));
  const main = ustarBlock(fits ? name : asciiStandIn(name), typeflag, h.mode, size, h.mtime);
  if (records.length === 0) return main;
  const pax = Buffer.concat(records);
  const paxName = asciiStandIn(`PaxHeaders/${name.replace(/\/$/, '').split('/').pop()}`);
  return Buffer.concat([ustarBlock(paxName, 'x', 0o644, pax.length, h.mtime), pax, padding(pax.length), main]);
}

/** A readable ASCII name of at most 100 bytes for readers that ignore pax. */
function asciiStandIn(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]/g, '_');
  return ascii.length <= 100 ? ascii : ascii.slice(ascii.length - 100);
}

/** The end-of-archive marker (two zero blocks) plus zeros up to a full record. */
export function trailer(written: number): Buffer {
  const end = written + 2 * BLOCK;
  const rest = end % RECORD;
  return Buffer.alloc(2 * BLOCK + (rest === 0 ? 0 : RECORD - rest), 0);
}
