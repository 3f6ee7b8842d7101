import amqp from 'amqplib';
import type { ChannelModel, ConfirmChannel } from 'amqplib';
import { crashPoint } from '../faults.js';
import { DeliveryError, EXIT_UNAVAILABLE } from './errors.js';

/**
 * Publishes to the node's RabbitMQ the way pywaggle does (waggle.md §1.2),
 * with publisher confirms. A plain basic_publish "succeeds" even when the
 * broker then drops the message (missing exchange, user_id not the login
 * user: field fault B18): the broker answers by closing the channel, so only
 * a confirm counts as delivered, and a channel close becomes an error that
 * quotes the broker's reason.
 */

export interface AmqpSettings {
  host: string;
  port: number;
  username: string;
  password: string;
  vhost: string;
  /** AMQP user_id property; the broker requires it to equal the login user. */
  userId: string;
  /** AMQP app_id (the pod's WAGGLE_APP_ID); the node's data service drops messages without it. */
  appId?: string;
  exchange: string;
  routingKey: string;
  connectTimeoutMs: number;
  confirmTimeoutMs: number;
}

/** pywaggle's get_default_plugin_config, plus what cmf-sage needs. */
export function amqpSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): AmqpSettings {
  const port = Number(env.WAGGLE_PLUGIN_PORT || '5672');
  if (!Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new DeliveryError(`WAGGLE_PLUGIN_PORT="${env.WAGGLE_PLUGIN_PORT}" is not a port number`, 2, false);
  }
  const username = env.WAGGLE_PLUGIN_USERNAME || 'plugin';
  return {
    host: env.WAGGLE_PLUGIN_HOST || 'rabbitmq',
    port,
    username,
    password: env.WAGGLE_PLUGIN_PASSWORD || 'plugin',
    vhost: '/',
    userId: username,
    appId: env.WAGGLE_APP_ID || undefined,
    exchange: 'to-validator',
    routingKey: 'all',
    connectTimeoutMs: 10_000,
    confirmTimeoutMs: 30_000,
  };
}

/** The broker's own words from an amqplib error ("... with message "NOT_FOUND - no exchange ..."). */
export function brokerReason(err: unknown): string {
  const msg = (err as Error)?.message ?? String(err);
  const m = /with message "(.*)"/s.exec(msg);
  return (m ? m[1] : msg).replace(/\s+/g, ' ').trim();
}

export class AmqpPublisher {
  private channelError: Error | undefined;
  private connectionError: Error | undefined;

  private constructor(
    private readonly s: AmqpSettings,
    private readonly model: ChannelModel,
    private channel: ConfirmChannel | undefined,
  ) {}

  get where(): string {
    return `amqp://${this.s.host}:${this.s.port}`;
  }

  static async connect(s: AmqpSettings): Promise<AmqpPublisher> {
    let model: ChannelModel;
    try {
      model = await amqp.connect(
        { protocol: 'amqp', hostname: s.host, port: s.port, username: s.username, password: s.password, vhost: s.vhost, heartbeat: 0 },
        { timeout: s.connectTimeoutMs },
      );
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      const reason = e.code ? `${e.code}${e.message.includes(e.code) ? '' : `: ${e.message}`}` : brokerReason(err);
      throw new DeliveryError(
        `cannot reach the node's RabbitMQ at amqp://${s.host}:${s.port} as "${s.username}" (${reason}); check WAGGLE_PLUGIN_HOST/PORT/USERNAME/PASSWORD`,
        EXIT_UNAVAILABLE,
        !/ACCESS_REFUSED/.test(reason),
      );
    }
    const p = new AmqpPublisher(s, model, undefined);
    // An 'error' without a listener would crash the process; the reason is reported by publish().
    model.on('error', (err: Error) => (p.connectionError = err));
    model.on('close', (err?: Error) => (p.connectionError ??= err ?? new Error('connection closed')));
    return p;
  }

  private async openChannel(): Promise<ConfirmChannel> {
    if (this.channel) return this.channel;
    const ch = await this.model.createConfirmChannel();
    this.channelError = undefined;
    ch.on('error', (err: Error) => (this.channelError = err));
    ch.on('close', () => {
      if (this.channel === ch) this.channel = undefined;
    });
    this.channel = ch;
    return ch;
  }

  /**
   * Publish one message and wait for the broker's confirm. Resolves only on
   * an ack; a nack, a channel close (with the broker's reason), a lost
   * connection or a timeout rejects with a DeliveryError.
   */
  async publish(body: Buffer): Promise<void> {
    const s = this.s;
    let ch: ConfirmChannel;
    try {
      ch = await this.openChannel();
    } catch (err) {
      throw this.failure(err);
    }
    await new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const done = (err?: unknown) => {
        clearTimeout(timer);
        ch.removeListener('close', onClose);
        if (err === undefined) resolve();
        else reject(this.failure(err));
      };
      const onClose = () => done(this.channelError ?? this.connectionError ?? new Error('channel closed'));
      ch.once('close', onClose);
      timer = setTimeout(() => done(new Error(`no confirm from the broker within ${s.confirmTimeoutMs / 1000} s`)), s.confirmTimeoutMs);
      try {
        ch.publish(
          s.exchange,
          s.routingKey,
          body,
          // pywaggle: delivery_mode=2, user_id=<username>, app_id only when set; no content type.
          { persistent: true, userId: s.userId, ...(s.appId ? { appId: s.appId } : {}) },
          (err: unknown) => (err ? done(this.channelError ?? err) : done()),
        );
        crashPoint('push.publish-sent');
      } catch (err) {
        done(err);
      }
    });
  }

  private failure(err: unknown): DeliveryError {
    if (err instanceof DeliveryError) return err;
    const cause = this.channelError ?? this.connectionError ?? err;
    const reason = brokerReason(cause);
    // A channel closed by the broker names a configuration problem (exchange, user_id);
    // it is retried anyway: the node's data service declares the exchange when it starts.
    return new DeliveryError(
      `RabbitMQ at ${this.where} did not accept the upload message on exchange "${this.s.exchange}": ${reason}`,
      EXIT_UNAVAILABLE,
      true,
    );
  }

  async close(): Promise<void> {
    try {
      await this.model.close();
    } catch {
      // already closed by the broker or the network; nothing to release
    }
  }
}
