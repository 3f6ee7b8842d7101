/**
 * Real servers on loopback for the cmf-server push tests (and bench/push.ts):
 *
 * - NginxDav: Debian's nginx as a DVC HTTP remote in the style `cmf init
 *   osdfremote` configures (WebDAV PUT, Bearer token), run in the foreground
 *   with a temp prefix; as root the master stays root and the workers run as
 *   www-data, who own the folder they write into;
 * - GitHttpServer: `git http-backend` (smart HTTP) behind a small node CGI
 *   wrapper, optionally with HTTP Basic auth;
 * - FaultProxy: a TCP proxy that resets connections mid-upload or holds the
 *   answers back, to put network faults between a client and either server.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { promises as fsp, existsSync } from 'node:fs';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';

export function haveCommand(cmd: string): boolean {
  for (const dir of (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/sbin'])) {
    if (dir && existsSync(path.join(dir, cmd))) return true;
  }
  return false;
}

export function nginxBinary(): string | undefined {
  for (const p of ['/usr/sbin/nginx', '/usr/bin/nginx']) if (existsSync(p)) return p;
  return haveCommand('nginx') ? 'nginx' : undefined;
}

export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function waitForPort(port: number, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((r) => {
      const c = net.connect(port, '127.0.0.1');
      c.once('connect', () => (c.destroy(), r(true)));
      c.once('error', () => r(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function wwwData(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const uid = Number(execFileSync('id', ['-u', 'www-data']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'www-data']).toString().trim());
    return { uid, gid };
  } catch {
    return undefined;
  }
}

export interface NginxDavOptions {
  /** The token nginx accepts (`Authorization: Bearer <token>`); anything else is 401. */
  token: string;
  /** A token that is known but may not write: 403. */
  forbiddenToken?: string;
  /** Where the temp prefix goes (default the OS temp dir; /dev/shm takes the disk out of a benchmark). */
  base?: string;
}

/** nginx serving `<root>/remote/` with WebDAV PUT behind a Bearer check. */
export class NginxDav {
  prefix = '';
  /** Files land in `<davRoot>/remote/files/md5/xx/rest`. */
  davRoot = '';
  port = 0;
  private child?: ChildProcess;
  private exited?: Promise<void>;

  constructor(readonly opts: NginxDavOptions) {}

  /** The DVC remote URL (as `cmf init osdfremote --path` would record it). */
  get remoteUrl(): string {
    return `http://127.0.0.1:${this.port}/remote`;
  }

  objectFile(md5: string): string {
    return path.join(this.davRoot, 'remote', 'files', 'md5', md5.slice(0, 2), md5.slice(2));
  }

  async start(): Promise<void> {
    const bin = nginxBinary();
    if (!bin) throw new Error('nginx is not installed (apt-get install nginx)');
    this.prefix = await fsp.mkdtemp(path.join(this.opts.base ?? os.tmpdir(), 'cmf-sage-nginx-'));
    await fsp.chmod(this.prefix, 0o755); // the workers must traverse it
    this.davRoot = path.join(this.prefix, 'dav');
    const temp = path.join(this.prefix, 'client-body');
    await fsp.mkdir(path.join(this.davRoot, 'remote'), { recursive: true });
    await fsp.mkdir(temp);
    const owner = wwwData();
    if (owner) {
      for (const d of [this.davRoot, path.join(this.davRoot, 'remote'), temp]) await fsp.chown(d, owner.uid, owner.gid);
    }
    this.port = await freePort();
    const q = (s: string) => s.replace(/"/g, '\\"');
    const conf = `
${owner ? 'user www-data www-data;' : ''}
worker_processes 1;
daemon off;
pid ${this.prefix}/nginx.pid;
error_log ${this.prefix}/error.log warn;
events { worker_connections 256; }
http {
  log_format dav '$request_method $uri $status $request_length $body_bytes_sent';
  access_log ${this.prefix}/access.log dav;
  client_body_temp_path ${temp};
  proxy_temp_path ${this.prefix}/proxy-temp;
  fastcgi_temp_path ${this.prefix}/fastcgi-temp;
  uwsgi_temp_path ${this.prefix}/uwsgi-temp;
  scgi_temp_path ${this.prefix}/scgi-temp;
  sendfile on;
  keepalive_requests 10000;
  map $http_authorization $dav_auth {
    default unauthorized;
    "Bearer ${q(this.opts.token)}" ok;
    ${this.opts.forbiddenToken ? `"Bearer ${q(this.opts.forbiddenToken)}" forbidden;` : ''}
  }
  server {
    listen 127.0.0.1:${this.port};
    root ${this.davRoot};
    client_max_body_size 0;
    location /remote/ {
      if ($dav_auth = unauthorized) { return 401; }
      if ($dav_auth = forbidden) { return 403; }
      dav_methods PUT;
      create_full_put_path on;
      dav_access user:rw group:r all:r;
    }
  }
}
`;
    const confFile = path.join(this.prefix, 'nginx.conf');
    await fsp.writeFile(confFile, conf);
    const child = spawn(bin, ['-p', this.prefix, '-e', path.join(this.prefix, 'error.log'), '-c', confFile], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (c) => (stderr += c));
    this.child = child;
    this.exited = new Promise((r) => child.once('exit', () => r()));
    const died = this.exited.then(() => {
      throw new Error(`nginx exited at start: ${stderr}`);
    });
    await Promise.race([waitForPort(this.port), died]);
    died.catch(() => undefined);
  }

  /** Requests nginx logged: method, uri, status, request bytes. */
  async accessLog(): Promise<{ method: string; uri: string; status: number; bytes: number }[]> {
    const text = await fsp.readFile(path.join(this.prefix, 'access.log'), 'utf8').catch(() => '');
    return text
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const [method, uri, status, bytes] = l.split(' ');
        return { method: method!, uri: uri!, status: Number(status), bytes: Number(bytes) };
      });
  }

  /** Remove everything stored (between benchmark runs). */
  async clear(): Promise<void> {
    await fsp.rm(path.join(this.davRoot, 'remote', 'files'), { recursive: true, force: true });
  }

  /** Every stored object: its name and the md5 of its bytes, computed by md5sum (an independent tool). */
  async storedObjects(): Promise<{ name: string; md5: string; size: number }[]> {
    return this.storedObjectsUnder('');
  }

  /** The same for a remote URL below /remote/ (`<remoteUrl>/<sub>`). */
  async storedObjectsUnder(sub: string): Promise<{ name: string; md5: string; size: number }[]> {
    const base = path.join(this.davRoot, 'remote', sub, 'files', 'md5');
    const out: { name: string; md5: string; size: number }[] = [];
    for (const d of await fsp.readdir(base).catch(() => [] as string[])) {
      for (const f of await fsp.readdir(path.join(base, d))) {
        const file = path.join(base, d, f);
        const sum = execFileSync('md5sum', [file]).toString().split(' ')[0]!;
        out.push({ name: d + f, md5: sum, size: (await fsp.stat(file)).size });
      }
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  async stop(): Promise<void> {
    if (this.child && this.child.exitCode === null) {
      this.child.kill('SIGTERM');
      await Promise.race([this.exited, new Promise((r) => setTimeout(r, 5000))]);
      if (this.child.exitCode === null) this.child.kill('SIGKILL');
    }
    if (this.prefix) await fsp.rm(this.prefix, { recursive: true, force: true });
  }
}

/** `git http-backend` behind node's http server: smart HTTP for isomorphic-git. */
export class GitHttpServer {
  private server?: http.Server;
  port = 0;
  /** Requests seen: method, path, status. */
  readonly requests: { method: string; path: string; status: number }[] = [];

  constructor(readonly root: string, readonly auth?: { user: string; token: string }) {}

  async start(): Promise<string> {
    this.server = http.createServer((req, res) => this.handle(req, res));
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
    return `http://127.0.0.1:${this.port}`;
  }

  /** A bare repository `<root>/<name>.git` that accepts pushes; returns its URL. */
  async createBare(name: string): Promise<{ dir: string; url: string }> {
    const dir = path.join(this.root, `${name}.git`);
    execFileSync('git', ['init', '-q', '--bare', dir]);
    execFileSync('git', ['--git-dir', dir, 'config', 'http.receivepack', 'true']);
    return { dir, url: `http://127.0.0.1:${this.port}/${name}.git` };
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const u = new URL(req.url ?? '/', 'http://x');
    const rec = { method: req.method ?? '', path: u.pathname, status: 0 };
    this.requests.push(rec);
    let user = '';
    if (this.auth) {
      const m = /^Basic (.+)$/.exec(req.headers.authorization ?? '');
      const [name, token] = m ? Buffer.from(m[1]!, 'base64').toString().split(':') : [];
      if (name !== this.auth.user || token !== this.auth.token) {
        rec.status = 401;
        res.writeHead(401, { 'www-authenticate': 'Basic realm="git"', 'content-length': 0 });
        res.end();
        return;
      }
      user = name!;
    }
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      GIT_PROJECT_ROOT: this.root,
      GIT_HTTP_EXPORT_ALL: '1',
      PATH_INFO: decodeURIComponent(u.pathname),
      QUERY_STRING: u.search.slice(1),
      REQUEST_METHOD: req.method,
      CONTENT_TYPE: req.headers['content-type'] ?? '',
      REMOTE_ADDR: '127.0.0.1',
      REMOTE_USER: user || 'anonymous',
      GIT_HTTP_MAX_REQUEST_BUFFER: '100M',
    };
    if (req.headers['content-length']) env.CONTENT_LENGTH = req.headers['content-length'];
    if (req.headers['content-encoding']) env.HTTP_CONTENT_ENCODING = req.headers['content-encoding'];
    if (req.headers['git-protocol']) env.GIT_PROTOCOL = String(req.headers['git-protocol']);
    const cgi = spawn('git', ['http-backend'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    req.pipe(cgi.stdin);
    let head = Buffer.alloc(0);
    let headerDone = false;
    cgi.stdout.on('data', (c: Buffer) => {
      if (headerDone) return void res.write(c);
      head = Buffer.concat([head, c]);
      let end = head.indexOf('\r\n\r\n');
      let sep = 4;
      if (end < 0) {
        end = head.indexOf('\n\n');
        sep = 2;
      }
      if (end < 0) return;
      headerDone = true;
      let status = 200;
      const headers: Record<string, string> = {};
      for (const line of head.subarray(0, end).toString('latin1').split(/\r?\n/)) {
        const i = line.indexOf(':');
        if (i < 0) continue;
        const k = line.slice(0, i).trim();
        const v = line.slice(i + 1).trim();
        if (k.toLowerCase() === 'status') status = Number(v.split(' ')[0]);
        else headers[k] = v;
      }
      rec.status = status;
      res.writeHead(status, headers);
      res.write(head.subarray(end + sep));
    });
    cgi.stdout.on('end', () => res.end());
    cgi.on('error', () => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server!.close(() => r()));
  }
}

/** A TCP proxy to 127.0.0.1:<target> with injectable faults. */
export class FaultProxy {
  private server?: net.Server;
  port = 0;
  /** Connections opened through the proxy. */
  connections = 0;
  private resets: { afterBytes: number; left: number } | undefined;
  private holds: { ms: number; left: number } | undefined;
  /** Faults that actually happened. */
  readonly happened: string[] = [];
  private readonly sockets = new Set<net.Socket>();

  constructor(readonly targetPort: number) {}

  /** The next `times` connections whose upload passes `afterBytes` are reset (TCP RST) right there. */
  armReset(afterBytes: number, times = 1): void {
    this.resets = { afterBytes, left: times };
  }

  /** The next `times` connections get every answer byte `ms` late (a server slower than the client's timeout). */
  armHold(ms: number, times = 1): void {
    this.holds = { ms, left: times };
  }

  async start(): Promise<number> {
    this.server = net.createServer((down) => {
      this.connections++;
      const up = net.connect(this.targetPort, '127.0.0.1');
      this.sockets.add(down);
      this.sockets.add(up);
      let sent = 0;
      let resetThis = false;
      let holdMs = 0;
      if (this.holds && this.holds.left > 0) {
        this.holds.left--;
        holdMs = this.holds.ms;
        this.happened.push(`hold ${holdMs} ms`);
      }
      const kill = () => {
        down.resetAndDestroy();
        up.destroy();
      };
      down.on('data', (c: Buffer) => {
        if (resetThis) return;
        sent += c.length;
        if (this.resets && this.resets.left > 0 && sent >= this.resets.afterBytes) {
          this.resets.left--;
          resetThis = true;
          this.happened.push(`reset after ${sent} bytes`);
          kill();
          return;
        }
        if (!up.write(c)) down.pause();
      });
      up.on('drain', () => down.resume());
      up.on('data', (c: Buffer) => {
        if (holdMs > 0) setTimeout(() => !down.destroyed && down.write(c), holdMs);
        else if (!down.write(c)) up.pause();
      });
      down.on('drain', () => up.resume());
      down.on('end', () => up.end());
      up.on('end', () => (holdMs > 0 ? setTimeout(() => down.end(), holdMs) : down.end()));
      const close = () => {
        this.sockets.delete(down);
        this.sockets.delete(up);
        down.destroy();
        up.destroy();
      };
      down.on('error', close);
      up.on('error', close);
      down.on('close', () => (holdMs > 0 ? setTimeout(() => up.destroy(), holdMs) : up.destroy()));
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
    return this.port;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    if (this.server) await new Promise<void>((r) => this.server!.close(() => r()));
  }
}
