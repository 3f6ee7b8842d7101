import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { UserError } from '../errors.js';
import { parseDvcConfig } from '../dvc/index.js';
import { isLocalRemote } from '../dvc/index.js';

/**
 * Where a push goes, read the way the cmf CLI reads it: `.cmfconfig`
 * (Python configparser INI; `cmf init` writes `[cmf] server-url`, and
 * `cmf init osdfremote` an `[osdf]` section with `access_token`), and the
 * default DVC remote with all its keys from `.dvc/config` + `config.local`.
 */

export type Ini = Map<string, Map<string, string>>;

/** configparser's reading: `[section]`, `key = value` or `key: value`, keys lower-cased, `#`/`;` comment lines. */
export function parseIni(text: string): Ini {
  const out: Ini = new Map();
  let cur: Map<string, string> | undefined;
  let lastKey: string | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/\s+$/, '');
    if (line.trim() === '' || /^\s*[#;]/.test(line)) continue;
    const h = /^\[(.+)\]$/.exec(line.trim());
    if (h && !/^\s/.test(line)) {
      const name = h[1]!;
      cur = out.get(name) ?? new Map();
      out.set(name, cur);
      lastKey = undefined;
      continue;
    }
    if (/^\s/.test(line) && cur && lastKey) {
      cur.set(lastKey, `${cur.get(lastKey)}\n${line.trim()}`); // continuation line
      continue;
    }
    const kv = /^([^=:]+?)\s*[=:]\s*(.*)$/.exec(line);
    if (kv && cur) {
      lastKey = kv[1]!.trim().toLowerCase();
      cur.set(lastKey, kv[2]!.trim());
    }
  }
  return out;
}

/** `.cmfconfig` of the workspace (`$CONFIG_FILE` names another file, as in cmflib), or an empty config. */
export async function readCmfConfig(workspace: string, env: NodeJS.ProcessEnv = process.env): Promise<{ file: string; ini: Ini }> {
  const name = env.CONFIG_FILE || '.cmfconfig';
  const file = path.resolve(workspace, name);
  try {
    return { file, ini: parseIni(await fsp.readFile(file, 'utf8')) };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { file, ini: new Map() };
    throw err;
  }
}

/**
 * The cmf-server base URL, as the cmf CLI finds it: `--cmf-server`, else
 * `$CMF_SERVER_URL`, else `.cmfconfig` `[cmf] server-url`. No trailing slash;
 * pushes go to `<url>/api/mlmd_push`.
 */
export async function cmfServerUrl(workspace: string, flag?: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  let url = flag?.trim() || env.CMF_SERVER_URL?.trim();
  let from = flag?.trim() ? '--cmf-server' : 'CMF_SERVER_URL';
  if (!url) {
    const { file, ini } = await readCmfConfig(workspace, env);
    url = ini.get('cmf')?.get('server-url')?.trim();
    from = `${file} [cmf] server-url`;
  }
  if (!url) {
    throw new UserError('no cmf-server URL: pass --cmf-server URL, set CMF_SERVER_URL, or set [cmf] server-url in the workspace .cmfconfig');
  }
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UserError(`the cmf-server URL "${url}" (from ${from}) is not a URL; give one like http://cmf-server.example:80`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new UserError(`the cmf-server URL "${url}" (from ${from}) must start with http:// or https://`);
  }
  return url.replace(/\/+$/, '');
}

export interface DvcRemote {
  /** Remote name (cmf's fixed names: local-storage, osdf, amazons3, ssh-storage, minio). */
  name: string;
  /** URL, or an absolute path for a local remote. */
  url: string;
  /** Every other key of the remote's section (method, password, ssl_verify, ...). */
  options: Record<string, string>;
}

/** The workspace's default DVC remote with all its keys; `.dvc/config.local` overrides `.dvc/config`, as in DVC. */
export async function readDvcRemote(workspace: string, name?: string): Promise<DvcRemote> {
  const dvcDir = path.resolve(workspace, '.dvc');
  const merged: { core: Record<string, string | undefined>; remotes: Record<string, Record<string, string>> } = { core: {}, remotes: {} };
  for (const f of ['config', 'config.local']) {
    let text: string;
    try {
      text = await fsp.readFile(path.join(dvcDir, f), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw err;
    }
    const cfg = parseDvcConfig(text);
    Object.assign(merged.core, cfg.core);
    for (const [n, v] of Object.entries(cfg.remotes)) merged.remotes[n] = { ...merged.remotes[n], ...v };
  }
  const remoteName = name ?? merged.core.remote;
  if (!remoteName) throw new UserError(`${path.join(dvcDir, 'config')} has no default remote (core.remote): nothing to push artifacts to`);
  const section = merged.remotes[remoteName];
  if (!section?.url) throw new UserError(`${path.join(dvcDir, 'config')} has no url for the DVC remote "${remoteName}"`);
  const { url, ...options } = section;
  return { name: remoteName, url: isLocalRemote(url) ? path.resolve(dvcDir, url.replace(/^~(?=\/|$)/, os.homedir())) : url, options };
}
