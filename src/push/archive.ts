import fs, { promises as fsp } from 'node:fs';
import path from 'node:path';
import { createHash, type Hash } from 'node:crypto';
import { Readable, Transform, Writable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { UserError, describeFsError } from '../errors.js';
import { renderPointer } from '../dvc/index.js';
import { fsyncDir, tempPathFor } from '../fsutil/atomic.js';
import { loadSegmentMlmd } from '../recorder/segment.js';
import { VERSION } from '../version.js';
import { crashPoint } from '../faults.js';
import { fsyncFile } from './files.js';
import { header, padding, trailer } from './tar-writer.js';
import { GitReader, collectHistory } from './git-history.js';
import { segmentMlmd, type Segment } from './segments.js';

/**
 * One sealed segment packaged as a self-contained cmf workspace in a
 * `.tar.gz`: the segment's mlmd (under the workspace's mlmd name), the `.dvc`
 * pointers it names, their DVC cache objects, the DVC/cmf config files, the
 * git history of its commits, and `manifest.json` (sha256 of every file).
 *
 * Deterministic: entries in sorted order, fixed owner (0/0, no names), fixed
 * modes, every mtime = the sealing time, gzip header without a time stamp.
 * Building the same segment twice gives the same bytes, so a retry re-sends
 * exactly what a receiver may already have.
 */

export const ARCHIVE_PREFIX = 'cmf_archive_';
/** Files `cmf init` / cmf-sage keep in git besides the pointers. */
const CONFIG_FILES = ['.cmfconfig', '.dvc/.gitignore', '.dvc/config', '.dvcignore', '.gitignore'];
const REQUIRED_CONFIG = new Set(['.cmfconfig', '.dvc/config']);

export type FileSource =
  | { kind: 'file'; file: string; md5?: string }
  | { kind: 'bytes'; bytes: Buffer };

export interface PlannedFile {
  path: string;
  mode: number;
  size: number;
  source: FileSource;
}

export interface ArchivePlan {
  name: string;
  segment: Segment;
  mtime: number;
  dirs: string[];
  files: PlannedFile[];
  /** Bytes of content to read (for progress). */
  inputBytes: number;
  git: { branch: string; head: string; shallow: string[]; objects: number };
}

export interface ArchiveDigest {
  size: number;
  sha1: string;
}

/**
 * `cmf_archive_<pipeline>_<sealed, UTC, basic ISO>_<segment>.tar.gz`. The
 * name travels unescaped into storage URLs (waggle.md §7.2), so the pipeline
 * is reduced to letters, digits, `.`, `_` and `-`.
 */
export function archiveName(pipeline: string, sealedAt: string, segment: string): string {
  const safe = pipeline.normalize('NFKD').replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[-.]+|-+$/g, '').slice(0, 64) || 'pipeline';
  const t = new Date(sealedAt).toISOString().replace(/\.\d+Z$/, 'Z').replace(/[-:]/g, '');
  return `${ARCHIVE_PREFIX}${safe}_${t}_${segment}.tar.gz`;
}

function cachePath(md5: string): string {
  return `.dvc/cache/files/md5/${md5.slice(0, 2)}/${md5.slice(2)}`;
}

/** Facts only the segment's mlmd holds: the first Git_Start_Commit and Git_Repo. Checked whole first: a damaged segment is not shipped. */
async function readSegmentGitFacts(file: string): Promise<{ start?: string; repo?: string }> {
  const store = await loadSegmentMlmd(path.dirname(file), 'delivered');
  try {
    const one = (name: string) =>
      store.db.exec(
        `SELECT string_value FROM ExecutionProperty WHERE name = '${name}' AND is_custom_property = 0 AND string_value <> '' ORDER BY execution_id LIMIT 1`,
      )[0]?.values[0]?.[0] as string | undefined;
    return { start: one('Git_Start_Commit'), repo: one('Git_Repo') };
  } finally {
    store.close();
  }
}

function gitConfig(remote: string | undefined): string {
  let s = '[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = false\n\tlogallrefupdates = true\n';
  // `cmf init` runs `git remote set-url cmf_origin <url>` when .git exists, which fails unless the
  // remote is configured; a section with only `fetch` counts as configured (checked with git 2.39).
  s += '[remote "cmf_origin"]\n';
  if (remote) s += `\turl = ${remote}\n`;
  s += '\tfetch = +refs/heads/*:refs/remotes/cmf_origin/*\n';
  return s;
}

/** Decide every entry (and its size) before writing, so the tar headers are known up front. */
export async function planArchive(root: string, seg: Segment): Promise<ArchivePlan> {
  const m = seg.manifest;
  const files: PlannedFile[] = [];
  const add = (p: string, mode: number, source: FileSource, size: number) => files.push({ path: p, mode, size, source });
  const statSize = async (file: string, what: string) => {
    try {
      const st = await fsp.stat(file);
      if (!st.isFile()) throw new UserError(`${what} ${file} is not a regular file`, 70);
      return st.size;
    } catch (err) {
      if (err instanceof UserError) throw err;
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new UserError(`segment ${seg.id} needs ${what} ${file}, which is missing; the segment cannot be pushed`, 70);
      }
      throw describeFsError(err, `reading ${file}`);
    }
  };

  const mlmdFile = segmentMlmd(seg);
  // First, and whole: a damaged or missing mlmd stops the segment before anything is written.
  const facts = await readSegmentGitFacts(mlmdFile);
  add(m.mlmdName, 0o644, { kind: 'file', file: mlmdFile }, await statSize(mlmdFile, 'its mlmd'));

  const reader = new GitReader(root);
  const head = m.gitEndCommits[m.gitEndCommits.length - 1];
  if (!head) throw new UserError(`segment ${seg.id} names no Git_End_Commit; the segment cannot be pushed`, 70);

  // Pointers: the bytes committed at the segment's last Git_End_Commit when
  // they name the manifest's object (so `git status` agrees); otherwise
  // rendered as the recorder renders them. A path seen twice (a model that
  // changed inside the segment) keeps its newest version, as the tree does.
  const pointers = new Map<string, { md5: string; size: number }>();
  for (const p of m.pointers) pointers.set(p.path, { md5: p.md5, size: p.size });
  for (const [p, o] of pointers) {
    const committed = await reader.fileAt(head, p);
    const text =
      committed && new RegExp(`md5: "?${o.md5}"?\\n`).test(committed.toString('utf8'))
        ? committed
        : Buffer.from(renderPointer({ md5: o.md5, size: o.size, path: path.posix.basename(p.slice(0, -'.dvc'.length)) }), 'utf8');
    add(p, 0o644, { kind: 'bytes', bytes: text }, text.length);
  }

  const objects = new Set([...m.objects, ...m.pointers.map((p) => p.md5)]);
  const cacheRoot = path.join(root, '.dvc', 'cache');
  for (const md5 of objects) {
    const file = path.join(cacheRoot, 'files', 'md5', md5.slice(0, 2), md5.slice(2));
    add(cachePath(md5), 0o444, { kind: 'file', file, md5 }, await statSize(file, 'cache object'));
  }

  for (const p of CONFIG_FILES) {
    // From the commit, not the working tree: the archive must not change when the config does later.
    let bytes = await reader.fileAt(head, p);
    if (!bytes) bytes = await fsp.readFile(path.join(root, ...p.split('/'))).catch(() => undefined);
    if (!bytes) {
      if (REQUIRED_CONFIG.has(p)) throw new UserError(`the workspace has no ${p}; run watch once to set it up, then push again`, 2);
      continue;
    }
    add(p, 0o644, { kind: 'bytes', bytes }, bytes.length);
  }

  const history = await collectHistory(reader, head, facts.start);
  const branch = m.mlmdName;
  const gitText = (p: string, text: string) => add(`.git/${p}`, 0o644, { kind: 'bytes', bytes: Buffer.from(text) }, Buffer.byteLength(text));
  gitText('HEAD', `ref: refs/heads/${branch}\n`);
  gitText('config', gitConfig(facts.repo));
  gitText(`refs/heads/${branch}`, `${head}\n`);
  if (history.shallow.length) gitText('shallow', history.shallow.map((c) => `${c}\n`).join(''));
  for (const oid of history.oids) {
    const loose = reader.loosePath(oid);
    const size = await fsp.stat(loose).then((s) => s.size, () => -1);
    if (size >= 0) add(`.git/objects/${oid.slice(0, 2)}/${oid.slice(2)}`, 0o444, { kind: 'file', file: loose }, size);
    else {
      const bytes = await reader.looseBytes(oid);
      add(`.git/objects/${oid.slice(0, 2)}/${oid.slice(2)}`, 0o444, { kind: 'bytes', bytes }, bytes.length);
    }
  }

  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const dirs = new Set<string>();
  for (const f of files) {
    const parts = f.path.split('/');
    for (let k = 1; k < parts.length; k++) dirs.add(parts.slice(0, k).join('/'));
  }
  return {
    name: archiveName(m.pipeline, m.sealedAt, m.segment),
    segment: seg,
    mtime: Math.floor(Date.parse(m.sealedAt) / 1000),
    dirs: [...dirs].sort(),
    files,
    inputBytes: files.reduce((n, f) => n + f.size, 0),
    git: { branch, head, shallow: history.shallow, objects: history.oids.length },
  };
}

export type Progress = (done: number, total: number) => void;

/** The tar stream: directories and files in path order, manifest.json last. */
async function* tarChunks(plan: ArchivePlan, progress?: Progress): AsyncGenerator<Buffer> {
  let written = 0;
  let done = 0;
  const emit = (b: Buffer) => {
    written += b.length;
    return b;
  };
  // Directories first with their files after: a sorted merge of both lists.
  type Item = { path: string; dir?: true; file?: PlannedFile };
  const items: Item[] = [...plan.dirs.map((d) => ({ path: d + '/', dir: true as const })), ...plan.files.map((f) => ({ path: f.path, file: f }))];
  items.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const sums: { path: string; size: number; sha256: string }[] = [];
  for (const it of items) {
    if (it.dir) {
      yield emit(header({ path: it.path.slice(0, -1), type: 'dir', mode: 0o755, size: 0, mtime: plan.mtime }));
      continue;
    }
    const f = it.file!;
    yield emit(header({ path: f.path, type: 'file', mode: f.mode, size: f.size, mtime: plan.mtime }));
    const sha = createHash('sha256');
    if (f.source.kind === 'bytes') {
      sha.update(f.source.bytes);
      yield emit(f.source.bytes);
    } else {
      const md5: Hash | undefined = f.source.md5 ? createHash('md5') : undefined;
      let n = 0;
      const stream = fs.createReadStream(f.source.file, { highWaterMark: 1 << 20 });
      try {
        for await (const chunk of stream as AsyncIterable<Buffer>) {
          n += chunk.length;
          if (n > f.size) break;
          sha.update(chunk);
          md5?.update(chunk);
          done += chunk.length;
          progress?.(done, plan.inputBytes);
          yield emit(chunk);
        }
      } catch (err) {
        throw describeFsError(err, `reading ${f.source.file}`);
      } finally {
        stream.destroy();
      }
      if (n !== f.size) throw new UserError(`${f.source.file} changed size while it was packaged (${f.size} → ${n} bytes); push again`, 70);
      // A cache object whose content is not its name would ship wrong data (B05).
      if (md5 && md5.digest('hex') !== f.source.md5) {
        throw new UserError(`cache object ${f.source.file} does not match its md5 name (damaged cache); the segment cannot be pushed`, 70);
      }
    }
    sums.push({ path: f.path, size: f.size, sha256: sha.digest('hex') });
    yield emit(padding(f.size));
  }
  const manifest = Buffer.from(JSON.stringify(archiveManifest(plan, sums), null, 1) + '\n', 'utf8');
  yield emit(header({ path: 'manifest.json', type: 'file', mode: 0o644, size: manifest.length, mtime: plan.mtime }));
  yield emit(manifest);
  yield emit(padding(manifest.length));
  yield trailer(written);
}

function archiveManifest(plan: ArchivePlan, files: { path: string; size: number; sha256: string }[]) {
  const m = plan.segment.manifest;
  return {
    format: 'cmf-sage-archive/1',
    producer: `cmf-sage ${VERSION}`,
    pipeline: m.pipeline,
    stage: m.stage,
    segment: m.segment,
    sealedAt: m.sealedAt,
    mlmd: m.mlmdName,
    executions: m.executions,
    counts: m.counts,
    git: { branch: plan.git.branch, head: plan.git.head, shallow: plan.git.shallow },
    files,
  };
}

/** Counts and SHA-1s what passes through (the upload's name needs the archive's SHA-1). */
class Digest extends Transform {
  size = 0;
  private readonly sha1 = createHash('sha1');
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.size += chunk.length;
    this.sha1.update(chunk);
    cb(null, chunk);
  }
  result(): ArchiveDigest {
    return { size: this.size, sha1: this.sha1.digest('hex') };
  }
}

/** Stream the archive into `out` (constant memory: one chunk at a time). */
export async function writeArchive(plan: ArchivePlan, out: Writable, progress?: Progress): Promise<ArchiveDigest> {
  const digest = new Digest();
  // No file name and mtime 0 in the gzip header (node's zlib writes neither), level fixed.
  await pipeline(Readable.from(tarChunks(plan, progress), { objectMode: false }), createGzip({ level: 6 }), digest, out);
  return digest.result();
}

/** Size and SHA-1 without writing anything (for --dry-run). */
export async function measureArchive(plan: ArchivePlan): Promise<ArchiveDigest> {
  return writeArchive(plan, new Writable({ write: (_c, _e, cb) => cb() }));
}

export interface BuiltArchive extends ArchiveDigest {
  name: string;
  file: string;
}

/** Write the archive to `<dir>/<name>`: temp file, fsync, rename, dir fsync. */
export async function buildArchive(plan: ArchivePlan, dir: string, progress?: Progress): Promise<BuiltArchive> {
  const file = path.join(dir, plan.name);
  const tmp = tempPathFor(file);
  try {
    await fsp.mkdir(dir, { recursive: true });
    const digest = await writeArchive(plan, fs.createWriteStream(tmp, { flags: 'wx', mode: 0o644 }), progress);
    await fsyncFile(tmp);
    crashPoint('push.archive-written');
    await fsp.rename(tmp, file);
    await fsyncDir(dir);
    return { ...digest, name: plan.name, file };
  } catch (err) {
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
    if (err instanceof UserError) throw err;
    if ((err as NodeJS.ErrnoException).code) throw describeFsError(err, `packaging segment ${plan.segment.id} in ${dir}`);
    throw err;
  }
}
