import { existsSync } from 'node:fs';
import path from 'node:path';
import { UserError } from '../errors.js';
import { amqpSettingsFromEnv, type AmqpSettings } from './amqp-publisher.js';
import { DirTarget } from './target-dir.js';
import { LogdirTarget } from './target-logdir.js';
import { WaggleTarget } from './target-waggle.js';
import type { Target } from './target.js';

/** pywaggle's default upload root on a node (WAGGLE_PLUGIN_UPLOAD_PATH). */
export const NODE_UPLOAD_PATH = '/run/waggle/uploads';

export interface TargetOptions {
  env?: NodeJS.ProcessEnv;
  /** Overrides for the AMQP settings read from the environment (tests, diagnostics). */
  amqp?: Partial<AmqpSettings>;
  /** Where the node's upload root is looked for when choosing the default (tests). */
  nodeUploadPath?: string;
}

/**
 * `--to waggle|logdir|dir:PATH`, or the default: `waggle` when
 * WAGGLE_PLUGIN_UPLOAD_PATH is set or /run/waggle/uploads exists (on a node),
 * else `logdir` when PYWAGGLE_LOG_DIR is set (pywaggle's dev mode), as
 * pywaggle itself decides where an upload goes.
 */
export function resolveTarget(to: string | undefined, o: TargetOptions = {}): Target {
  const env = o.env ?? process.env;
  const nodePath = o.nodeUploadPath ?? NODE_UPLOAD_PATH;
  let kind = to;
  if (kind === undefined) {
    if (env.WAGGLE_PLUGIN_UPLOAD_PATH || existsSync(nodePath)) kind = 'waggle';
    else if (env.PYWAGGLE_LOG_DIR) kind = 'logdir';
    else {
      throw new UserError(
        'no delivery target: pass --to waggle|logdir|dir:PATH|cmf-server, or set WAGGLE_PLUGIN_UPLOAD_PATH (node) or PYWAGGLE_LOG_DIR (log-dir mode)',
        2,
      );
    }
  }
  if (kind === 'waggle') {
    return new WaggleTarget(env.WAGGLE_PLUGIN_UPLOAD_PATH || nodePath, { ...amqpSettingsFromEnv(env), ...o.amqp });
  }
  if (kind === 'logdir') {
    if (!env.PYWAGGLE_LOG_DIR) throw new UserError('--to logdir needs PYWAGGLE_LOG_DIR (the plugin\'s run-log folder)', 2);
    return new LogdirTarget(env.PYWAGGLE_LOG_DIR);
  }
  if (kind.startsWith('dir:') && kind.length > 4) return new DirTarget(path.resolve(kind.slice(4)));
  throw new UserError(`--to "${kind}" is not a target: use waggle, logdir, dir:PATH or cmf-server`, 2);
}
