import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, closeSync, promises as fsp } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import os from 'node:os';
import { promisify } from 'node:util';
import amqp from 'amqplib';

const execFileP = promisify(execFile);

/** Debian's rabbitmq-server layout (package rabbitmq-server). */
const RMQ_BIN = '/usr/lib/rabbitmq/bin';

export interface ConsumedMessage {
  exchange: string;
  routingKey: string;
  properties: amqp.MessageProperties;
  body: Buffer;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

async function idOf(flag: '-u' | '-g', user: string): Promise<number> {
  return Number((await execFileP('id', [flag, user])).stdout.trim());
}

/**
 * A throwaway RabbitMQ node on loopback for one test file: its own node name,
 * ports (AMQP, distribution, epmd), data, log and config under a temp folder,
 * and an Erlang cookie in a temp HOME. Debian's server runs as the `rabbitmq`
 * user, so when the tests run as root the folder is handed to that user and
 * the server and rabbitmqctl are started with its uid/gid.
 * The test user `plugin`/`plugin` gets full rights on `/`, as on a node.
 */
export class TestBroker {
  readonly queue = 'cmf-sage-test-uploads';
  private child: ChildProcess | undefined;
  private exited: Promise<void> | undefined;

  private constructor(
    readonly base: string,
    readonly port: number,
    private readonly env: NodeJS.ProcessEnv,
    private readonly ids: { uid?: number; gid?: number },
  ) {}

  get amqpEnv(): Record<string, string> {
    return { WAGGLE_PLUGIN_HOST: '127.0.0.1', WAGGLE_PLUGIN_PORT: String(this.port), WAGGLE_PLUGIN_USERNAME: 'plugin', WAGGLE_PLUGIN_PASSWORD: 'plugin' };
  }

  get url(): string {
    return `amqp://plugin:plugin@127.0.0.1:${this.port}/`;
  }

  static async start(): Promise<TestBroker> {
    if (!existsSync(path.join(RMQ_BIN, 'rabbitmq-server'))) {
      throw new Error('rabbitmq-server is not installed: run `apt-get install rabbitmq-server` (.ci/run installs it); the push tests need a real broker');
    }
    const base = await fsp.mkdtemp(path.join(os.tmpdir(), 'cmf-sage-rmq-'));
    for (const d of ['home', 'mnesia', 'log']) await fsp.mkdir(path.join(base, d));
    const [port, dist, epmd] = [await freePort(), await freePort(), await freePort()];
    await fsp.writeFile(path.join(base, 'rabbitmq.conf'), `listeners.tcp.default = 127.0.0.1:${port}\nloopback_users = none\n`);
    await fsp.writeFile(path.join(base, 'enabled_plugins'), '[].\n');
    await fsp.writeFile(path.join(base, 'rabbitmq-env.conf'), '');
    const ids: { uid?: number; gid?: number } = {};
    if (process.getuid?.() === 0) {
      ids.uid = await idOf('-u', 'rabbitmq');
      ids.gid = await idOf('-g', 'rabbitmq');
      await execFileP('chown', ['-R', `${ids.uid}:${ids.gid}`, base]);
    }
    await fsp.chmod(base, 0o755);
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      LANG: 'C.UTF-8',
      HOME: path.join(base, 'home'),
      RABBITMQ_NODENAME: `cmfsage${process.pid}x${port}@localhost`,
      RABBITMQ_NODE_PORT: String(port),
      RABBITMQ_DIST_PORT: String(dist),
      ERL_EPMD_PORT: String(epmd),
      RABBITMQ_MNESIA_BASE: path.join(base, 'mnesia'),
      RABBITMQ_LOG_BASE: path.join(base, 'log'),
      RABBITMQ_CONFIG_FILE: path.join(base, 'rabbitmq.conf'),
      RABBITMQ_ENABLED_PLUGINS_FILE: path.join(base, 'enabled_plugins'),
      RABBITMQ_CONF_ENV_FILE: path.join(base, 'rabbitmq-env.conf'),
      RABBITMQ_PID_FILE: path.join(base, 'rabbitmq.pid'),
    };
    const b = new TestBroker(base, port, env, ids);
    await b.boot();
    await b.ctl('add_user', 'plugin', 'plugin');
    await b.ctl('set_permissions', '-p', '/', 'plugin', '.*', '.*', '.*');
    return b;
  }

  /** Start the server process and wait until it accepts commands. */
  async boot(): Promise<void> {
    const out = openSync(path.join(this.base, 'server.out'), 'a');
    this.child = spawn(path.join(RMQ_BIN, 'rabbitmq-server'), [], { env: this.env, stdio: ['ignore', out, out], ...this.ids });
    closeSync(out);
    const child = this.child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    const deadline = Date.now() + 90_000;
    for (;;) {
      try {
        await this.ctl('await_startup', '--timeout', '30');
        return;
      } catch (err) {
        if (child.exitCode !== null) throw new Error(`rabbitmq-server exited (${child.exitCode}); see ${this.base}/server.out and ${this.base}/log`);
        if (Date.now() > deadline) throw new Error(`rabbitmq-server did not start in 90 s: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  async ctl(...args: string[]): Promise<string> {
    const { stdout } = await execFileP(path.join(RMQ_BIN, 'rabbitmqctl'), ['-q', ...args], { env: this.env, ...this.ids, timeout: 60_000 });
    return stdout;
  }

  /** Graceful stop (persistent messages in durable queues survive). */
  async stop(): Promise<void> {
    if (!this.child || this.child.exitCode !== null) return;
    try {
      await this.ctl('stop');
    } catch {
      this.child.kill('SIGTERM');
    }
    const t = setTimeout(() => this.child?.kill('SIGKILL'), 30_000);
    await this.exited;
    clearTimeout(t);
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.boot();
  }

  /** Stop the node, its epmd, and remove its folder. */
  async dispose(): Promise<void> {
    await this.stop();
    await execFileP('epmd', ['-port', String(this.env.ERL_EPMD_PORT), '-kill'], { env: this.env }).catch(() => undefined);
    await fsp.rm(this.base, { recursive: true, force: true });
  }

  private async channel<T>(fn: (ch: amqp.Channel) => Promise<T>): Promise<T> {
    const conn = await amqp.connect(this.url);
    conn.on('error', () => undefined);
    try {
      const ch = await conn.createChannel();
      ch.on('error', () => undefined);
      return await fn(ch);
    } finally {
      await conn.close().catch(() => undefined);
    }
  }

  /** The node's `to-validator` (fanout, durable, as wes-data-sharing-service declares it) bound to a durable test queue. */
  async declareToValidator(): Promise<void> {
    await this.channel(async (ch) => {
      await ch.assertExchange('to-validator', 'fanout', { durable: true });
      await ch.assertQueue(this.queue, { durable: true });
      await ch.bindQueue(this.queue, 'to-validator', '');
      await ch.purgeQueue(this.queue);
    });
  }

  async deleteToValidator(): Promise<void> {
    await this.channel(async (ch) => {
      await ch.deleteExchange('to-validator');
    });
  }

  /** Take every message now in the test queue. */
  async drain(): Promise<ConsumedMessage[]> {
    return this.channel(async (ch) => {
      const out: ConsumedMessage[] = [];
      for (;;) {
        const m = await ch.get(this.queue, { noAck: true });
        if (!m) return out;
        out.push({ exchange: m.fields.exchange, routingKey: m.fields.routingKey, properties: m.properties, body: m.content });
      }
    });
  }
}
