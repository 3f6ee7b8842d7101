import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { UserError } from '../errors.js';
import { readCmfConfig, type DvcRemote } from './config.js';

/**
 * The Bearer token for an HTTP (osdf-style) DVC remote. Never taken from a
 * command-line argument (it would show in `ps` and shell history) and never
 * logged; only where it came from is reported. In this order:
 *
 * 1. `$CMF_SAGE_REMOTE_TOKEN`;
 * 2. `--token-file FILE`;
 * 3. the token file `.cmfconfig` names in `[osdf] access_token` (what
 *    `cmf init osdfremote --access-token FILE` records; cmflib reads it the
 *    same way);
 * 4. the remote's `password` in `.dvc/config(.local)` (`Bearer <token>`, what
 *    `cmf artifact push` writes there before running `dvc push`).
 *
 * A file may hold the bare token or `Bearer <token>`; surrounding white space
 * is ignored.
 */
export interface RemoteToken {
  token: string;
  /** Where it came from (for messages; never the token itself). */
  source: string;
}

export async function resolveRemoteToken(opts: {
  workspace: string;
  tokenFile?: string;
  remote?: DvcRemote;
  env?: NodeJS.ProcessEnv;
}): Promise<RemoteToken | undefined> {
  const env = opts.env ?? process.env;
  const fromEnv = env.CMF_SAGE_REMOTE_TOKEN;
  if (fromEnv !== undefined && fromEnv.trim() !== '') return { token: bare(fromEnv), source: 'CMF_SAGE_REMOTE_TOKEN' };
  if (opts.tokenFile) return { token: await readTokenFile(opts.tokenFile, '--token-file'), source: `--token-file ${opts.tokenFile}` };
  const { file, ini } = await readCmfConfig(opts.workspace, env);
  const access = ini.get('osdf')?.get('access_token')?.trim();
  if (access && access !== 'provided') {
    const p = access.replace(/^~(?=\/|$)/, os.homedir());
    const abs = path.resolve(opts.workspace, p);
    const isFile = await fsp.stat(abs).then((s) => s.isFile(), () => false);
    if (isFile) return { token: await readTokenFile(abs, `${file} [osdf] access_token`), source: `${file} [osdf] access_token` };
  }
  const password = opts.remote?.options.password?.trim();
  if (password && /^Bearer\s+\S/.test(password)) {
    return { token: bare(password), source: `.dvc/config remote "${opts.remote!.name}" password` };
  }
  return undefined;
}

async function readTokenFile(file: string, what: string): Promise<string> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UserError(`cannot read the token file ${file} (${what}): ${code ?? (err as Error).message}`);
  }
  const token = bare(text);
  if (!token) throw new UserError(`the token file ${file} (${what}) is empty`);
  if (/[\r\n]/.test(token)) throw new UserError(`the token file ${file} (${what}) holds more than one line; it must hold just the token`);
  return token;
}

function bare(s: string): string {
  return s.trim().replace(/^Bearer\s+/i, '').trim();
}
