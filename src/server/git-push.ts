import { STATUS_CODES } from 'node:http';
import path from 'node:path';
import git from 'isomorphic-git';
import { interceptors, request, type Dispatcher } from 'undici';
import { UserError } from '../errors.js';
import type { Logger } from '../log.js';
import { createDurableFs, REMOTE_NAME } from '../git/index.js';
import { createAgent, describeNetError, safeUrl, StallTimer } from './http.js';
import { EXIT_DENIED, EXIT_REJECTED, EXIT_UNREACHABLE } from './metadata.js';

/**
 * `cmf repo push` without git: push the workspace's work branch (named after
 * the mlmd file, as cmflib's `git checkout -B <mlmd>`) to `cmf_origin` over
 * smart HTTP(S) with isomorphic-git, so every Git_Start_Commit and
 * Git_End_Commit the metadata names is on the remote.
 *
 * isomorphic-git does the protocol; its HTTP goes through undici here (the
 * small `HttpClient` below) rather than its `http/node` (simple-get), so the
 * push has the same keep-alive agent and the same no-progress timeout as the
 * other uploads and cannot hang forever on a silent server.
 *
 * Never forced: a remote branch with commits the workspace lacks is an error
 * naming it. The remote-tracking ref is written through the crash-safe fs.
 * Token: `$CMF_SAGE_GIT_TOKEN` (HTTP Basic, user `$CMF_SAGE_GIT_USER` or
 * `x-access-token`, which GitHub and GitLab accept with a personal token).
 */
export interface PushGitOptions {
  workspace: string;
  /** Branch to push (default: the checked-out branch). */
  branch?: string;
  /** Remote URL (default: the url of git remote `cmf_origin`). */
  remote?: string;
  /** Default `$CMF_SAGE_GIT_TOKEN`. */
  token?: string;
  /** Default `$CMF_SAGE_GIT_USER`, else `x-access-token`. */
  username?: string;
  /** Commits that must be on the remote afterwards (the metadata's Git_*_Commit values). */
  requiredCommits?: string[];
  logger: Logger;
  dispatcher?: Dispatcher;
  /** Abort when a request made no progress for this long (default 120 s). */
  stallMs?: number;
  env?: NodeJS.ProcessEnv;
}

export interface PushGitResult {
  url: string;
  branch: string;
  head: string;
  /** false when the remote branch already was at `head`. */
  pushed: boolean;
  /** Required commits that are not in the pushed history (left out by a repair); reported, not pushed. */
  unreachable: string[];
}

export async function pushGit(o: PushGitOptions): Promise<PushGitResult> {
  const env = o.env ?? process.env;
  const dir = path.resolve(o.workspace);
  const gitdir = path.join(dir, '.git');
  const durable = createDurableFs({ fsync: true });
  const fs = { promises: durable.promises };
  const cache = {};
  const url = o.remote ?? ((await git.getConfig({ fs, dir, gitdir, path: `remote.${REMOTE_NAME}.url` }).catch(() => undefined)) as string | undefined);
  if (!url) {
    throw new UserError(`the workspace ${dir} has no git remote "${REMOTE_NAME}": start watch with --git-remote URL (or add it with git remote add ${REMOTE_NAME} URL)`);
  }
  if (!/^https?:\/\//i.test(url)) {
    throw new UserError(`git remote "${REMOTE_NAME}" is ${safeUrl(url)}: cmf-sage pushes code over HTTP(S) only (isomorphic-git has no ssh); use an https:// URL or "cmf repo push"`, EXIT_REJECTED);
  }
  const shown = safeUrl(url);
  const branch = o.branch ?? (await git.currentBranch({ fs, dir, gitdir, fullname: false }));
  if (!branch) throw new UserError(`the workspace ${dir} has no branch checked out (detached HEAD); nothing to push`);
  const head = await git.resolveRef({ fs, dir, gitdir, ref: `refs/heads/${branch}` }).catch(() => undefined);
  if (!head) throw new UserError(`branch ${branch} does not exist in ${dir}`);

  const token = o.token ?? env.CMF_SAGE_GIT_TOKEN;
  const headers: Record<string, string> = {};
  if (token) {
    const user = o.username ?? env.CMF_SAGE_GIT_USER ?? 'x-access-token';
    headers.authorization = `Basic ${Buffer.from(`${user}:${token}`).toString('base64')}`;
  }
  const own = o.dispatcher ? undefined : createAgent({ connections: 2 });
  const base = o.dispatcher ?? own!;
  const http = undiciHttpClient(base.compose(interceptors.redirect({ maxRedirections: 5 })), o.stallMs ?? 120_000);

  try {
    let remoteHead: string | undefined;
    try {
      const refs = await git.listServerRefs({ http, url, headers, forPush: true, protocolVersion: 1, prefix: `refs/heads/${branch}` });
      remoteHead = refs.find((r) => r.ref === `refs/heads/${branch}`)?.oid;
    } catch (err) {
      throw explain(err, shown, 'reading the remote refs');
    }
    let pushed = false;
    if (remoteHead !== head) {
      if (remoteHead && !(await git.isDescendent({ fs, dir, gitdir, oid: head, ancestor: remoteHead, depth: -1, cache }).catch(() => false))) {
        throw new UserError(
          `the branch ${branch} on ${shown} is at ${remoteHead}, which the workspace's ${branch} (${head}) does not contain; cmf-sage never force-pushes: move the remote branch aside or merge by hand`,
          EXIT_REJECTED,
        );
      }
      let res;
      try {
        res = await git.push({ fs, http, dir, gitdir, cache, url, remote: REMOTE_NAME, ref: branch, remoteRef: branch, headers });
      } catch (err) {
        throw explain(err, shown, `pushing ${branch}`);
      }
      const status = res.refs?.[`refs/heads/${branch}`];
      if (!res.ok || (status && !status.ok)) {
        throw new UserError(`${shown} refused the push of ${branch}: ${status?.error ?? res.error ?? 'no reason given'}`, EXIT_REJECTED);
      }
      await durable.barrier();
      pushed = true;
    }
    const unreachable: string[] = [];
    for (const c of new Set((o.requiredCommits ?? []).filter((c) => /^[0-9a-f]{40}$/.test(c)))) {
      if (c === head) continue;
      const ok = await git.isDescendent({ fs, dir, gitdir, oid: head, ancestor: c, depth: -1, cache }).catch(() => false);
      if (!ok) unreachable.push(c);
    }
    if (unreachable.length) {
      o.logger.warn({ url: shown, branch, commits: unreachable }, 'commits named by the metadata are not in the pushed branch (a repaired history?); they are not on the remote');
    }
    o.logger.info({ url: shown, branch, head, pushed }, pushed ? 'code pushed to cmf_origin' : 'cmf_origin already has the code');
    return { url: shown, branch, head, pushed, unreachable };
  } finally {
    await own?.close();
  }
}

function explain(err: unknown, url: string, what: string): UserError {
  if (err instanceof UserError) return err;
  const e = err as { code?: string; data?: { statusCode?: number; response?: string }; message?: string };
  const status = e?.data?.statusCode;
  if (e?.code === 'HttpError' && (status === 401 || status === 403)) {
    return new UserError(`${url} refused the git credentials (HTTP ${status}) while ${what}: set CMF_SAGE_GIT_TOKEN (and CMF_SAGE_GIT_USER if the host needs a user name)`, EXIT_DENIED);
  }
  if (e?.code === 'HttpError') {
    return new UserError(`${url} answered HTTP ${status} while ${what}${e.data?.response ? `: ${String(e.data.response).slice(0, 200)}` : ''}`, status && status >= 500 ? EXIT_UNREACHABLE : EXIT_REJECTED);
  }
  if (e?.code === 'SmartHttpError' || e?.code === 'UnknownTransportError' || e?.code === 'UrlParseError') {
    return new UserError(`${url} is not a git smart-HTTP server (${e.message}) while ${what}`, EXIT_REJECTED);
  }
  return new UserError(`git push to ${url} failed while ${what}: ${describeNetError(err)}; run push again later`, EXIT_UNREACHABLE);
}

type GitHttpRequest = {
  url: string;
  method?: string;
  headers?: Record<string, string>;
  body?: AsyncIterableIterator<Uint8Array> | Iterable<Uint8Array>;
};

/** isomorphic-git's HttpClient over undici: request bodies are small (ref updates + a pack), collected first. */
function undiciHttpClient(dispatcher: Dispatcher, stallMs: number) {
  return {
    async request({ url, method = 'GET', headers = {}, body }: GitHttpRequest) {
      let payload: Buffer | undefined;
      if (body) {
        const parts: Buffer[] = [];
        for await (const c of body as AsyncIterable<Uint8Array>) parts.push(Buffer.from(c));
        payload = Buffer.concat(parts);
      }
      const timer = new StallTimer(stallMs);
      try {
        const res = await request(url, { method, headers, body: payload, dispatcher, signal: timer.signal });
        const parts: Buffer[] = [];
        for await (const c of res.body) {
          timer.poke();
          parts.push(c as Buffer);
        }
        const data = Buffer.concat(parts);
        const flat: Record<string, string> = {};
        for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) flat[k] = Array.isArray(v) ? v.join(', ') : v;
        return {
          url,
          method,
          statusCode: res.statusCode,
          statusMessage: STATUS_CODES[res.statusCode] ?? '',
          headers: flat,
          body: (async function* () {
            yield new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
          })(),
        };
      } catch (err) {
        const stall = timer.stalled();
        throw stall ? Object.assign(new Error(`git server made no progress for ${stall.ms} ms`), { code: 'ETIMEDOUT' }) : err;
      } finally {
        timer.done();
      }
    },
  };
}
