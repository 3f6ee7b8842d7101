import { pino, type Logger } from 'pino';
import { UserError } from './errors.js';

export type { Logger };

/**
 * Logs are JSON lines on stderr (fd 2), written synchronously so that the last
 * line before a crash or exit is not lost; stdout stays free for human or
 * --json output.
 */
export function createLogger(level: string = process.env.CMF_SAGE_LOG_LEVEL ?? 'info'): Logger {
  const levels = Object.keys(pino.levels.values);
  if (!levels.includes(level) && level !== 'silent') {
    throw new UserError(`CMF_SAGE_LOG_LEVEL="${level}" is not a log level: use one of ${levels.join(', ')} or silent`, 2);
  }
  return pino({ level, base: { name: 'cmf-sage' } }, pino.destination({ dest: 2, sync: true }));
}

/** A logger that drops everything: for library use and unit tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
