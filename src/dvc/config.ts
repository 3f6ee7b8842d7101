import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../fsutil/atomic.js';
import { describeFsError, UserError } from '../errors.js';
import { makeDirs } from './dirs.js';
import { keyLine, parseConfigObj, sectionHeader, setConfigValue } from './configobj.js';
import { objectKey } from './md5.js';

export interface DvcConfig {
  core: { remote?: string; [key: string]: string | undefined };
  remotes: Record<string, Record<string, string>>;
}

const SCHEME_RE = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//;

/** cmf's fixed remote names; other cmf commands switch on them. */
export function remoteNameFor(url: string): string {
  if (url.trim() === '') throw new UserError('the DVC remote URL is empty: give a local path or an s3://, ssh:// or https:// URL');
  const scheme = SCHEME_RE.exec(url)?.[1]?.toLowerCase();
  switch (scheme) {
    case undefined:
      return 'local-storage';
    case 's3':
      return 'amazons3';
    case 'ssh':
      return 'ssh-storage';
    case 'http':
    case 'https':
      return 'osdf';
    default:
      throw new UserError(
        `unsupported DVC remote URL ${url}: use a local path, s3://bucket/prefix, ssh://host/path or https://origin/path`,
      );
  }
}

export function isLocalRemote(url: string): boolean {
  return !SCHEME_RE.test(url);
}

/** `.dvc/config` text as `dvc remote add -d <name> <url>` plus `dvc remote modify` would leave it. */
export function renderDvcConfig(remoteName: string, url: string, extra: Record<string, string> = {}): string {
  const lines = ['[core]', keyLine('remote', remoteName), sectionHeader(`remote "${remoteName}"`), keyLine('url', url)];
  for (const [k, v] of Object.entries(extra)) lines.push(keyLine(k, v));
  return lines.join('\n') + '\n';
}

export function parseDvcConfig(text: string): DvcConfig {
  const cfg: DvcConfig = { core: {}, remotes: {} };
  for (const [name, values] of parseConfigObj(text)) {
    if (name === 'core') {
      for (const [k, v] of values) cfg.core[k] = v;
      // DVC's schema lowercases the default remote name.
      if (cfg.core.remote !== undefined) cfg.core.remote = cfg.core.remote.toLowerCase();
      continue;
    }
    const m = /^remote\s+"(.*)"$/.exec(name);
    if (m) cfg.remotes[m[1]!] = { ...cfg.remotes[m[1]!], ...Object.fromEntries(values) };
  }
  return cfg;
}

export function remoteObjectUrl(remoteUrl: string, md5: string): string {
  const [dir, rest] = objectKey(md5);
  return `${remoteUrl.replace(/\/+$/, '')}/files/md5/${dir}/${rest}`;
}

const DVC_GITIGNORE = '/config.local\n/tmp\n/cache\n';
const DVCIGNORE =
  '# Add patterns of files dvc should ignore, which could improve\n' +
  '# the performance. Learn more at\n' +
  '# https://dvc.org/doc/user-guide/dvcignore\n';

export interface InitDvcOptions {
  /** Extra `dvc remote modify` keys (e.g. osdf's `method = PUT`). */
  extra?: Record<string, string>;
  /** Remote name; default remoteNameFor(remoteUrl). */
  remoteName?: string;
  /** Base for a relative local remote path (DVC: the cwd of `dvc remote add`); default process.cwd(). */
  cwd?: string;
  /** fsync written files (default true). */
  fsync?: boolean;
}

/**
 * What `dvc init` + `dvc remote add -d` leave on disk, without dvc. Idempotent:
 * existing files are left alone, except that `.dvc/config` is edited when its
 * default remote is not `remoteUrl`.
 */
export async function initDvc(workspace: string, remoteUrl: string, opts: InitDvcOptions = {}): Promise<void> {
  const dvcDir = path.join(workspace, '.dvc');
  const name = opts.remoteName ?? remoteNameFor(remoteUrl);
  const fsync = opts.fsync ?? true;
  // DVC stores a relative local path relative to `.dvc/`, where the config lives.
  const stored = isLocalRemote(remoteUrl) && !path.isAbsolute(remoteUrl)
    ? path.relative(path.resolve(dvcDir), path.resolve(opts.cwd ?? process.cwd(), remoteUrl)) || '.'
    : remoteUrl;
  try {
    await makeDirs(path.join(dvcDir, 'cache', 'files', 'md5'));
    await writeIfMissing(path.join(dvcDir, '.gitignore'), DVC_GITIGNORE, fsync);
    await writeIfMissing(path.join(workspace, '.dvcignore'), DVCIGNORE, fsync);
    const configFile = path.join(dvcDir, 'config');
    const old = await readIfExists(configFile);
    const next = old === undefined
      ? renderDvcConfig(name, stored, opts.extra)
      : updateConfig(old, dvcDir, name, stored, opts.extra ?? {});
    if (next !== old) await writeFileAtomic(configFile, next, { fsync });
  } catch (err) {
    if (err instanceof UserError || !(err as NodeJS.ErrnoException).code) throw err;
    throw describeFsError(err, `initialising DVC in ${workspace}`);
  }
}

/** Point an existing config's default remote at `url`, touching nothing that already agrees. */
function updateConfig(text: string, dvcDir: string, name: string, url: string, extra: Record<string, string>): string {
  const cfg = parseDvcConfig(text);
  const section = `remote "${name}"`;
  const current = cfg.remotes[name];
  let next = text;
  if (cfg.core.remote !== name) next = setConfigValue(next, 'core', 'remote', name);
  if (!current?.url || resolveRemoteUrl(current.url, dvcDir) !== resolveRemoteUrl(url, dvcDir)) {
    next = setConfigValue(next, section, 'url', url);
  }
  for (const [k, v] of Object.entries(extra)) {
    if (current?.[k] !== v) next = setConfigValue(next, section, k, v);
  }
  return next;
}

/** A local remote path as an absolute path (relative ones are relative to `.dvc/`); URLs unchanged. */
function resolveRemoteUrl(url: string, dvcDir: string): string {
  return isLocalRemote(url) ? path.resolve(dvcDir, url) : url;
}

/**
 * The default remote from `.dvc/config`, overridden by `.dvc/config.local`
 * as DVC does. A local path comes back absolute.
 */
export async function readDefaultRemote(workspace: string): Promise<{ name: string; url: string } | undefined> {
  const dvcDir = path.resolve(workspace, '.dvc');
  const texts = [await readIfExists(path.join(dvcDir, 'config')), await readIfExists(path.join(dvcDir, 'config.local'))];
  const merged: DvcConfig = { core: {}, remotes: {} };
  for (const text of texts) {
    if (text === undefined) continue;
    const cfg = parseDvcConfig(text);
    Object.assign(merged.core, cfg.core);
    for (const [n, values] of Object.entries(cfg.remotes)) merged.remotes[n] = { ...merged.remotes[n], ...values };
  }
  const name = merged.core.remote;
  if (!name) return undefined;
  const url = merged.remotes[name]?.url;
  if (!url) {
    throw new UserError(`${path.join(dvcDir, 'config')} names "${name}" as the default remote but has no url for it: run init again`);
  }
  return { name, url: resolveRemoteUrl(url, dvcDir) };
}

async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return await fsp.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

async function writeIfMissing(file: string, text: string, fsync: boolean): Promise<void> {
  if ((await readIfExists(file)) === undefined) await writeFileAtomic(file, text, { fsync });
}
