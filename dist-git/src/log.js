import { pino } from 'pino';
/**
 * Logs are JSON lines on stderr (fd 2), written synchronously so that the last
 * line before a crash or exit is not lost; stdout stays free for human or
 * --json output.
 */
export function createLogger(level = process.env.CMF_SAGE_LOG_LEVEL ?? 'info') {
    return pino({ level, base: { name: 'cmf-sage' } }, pino.destination({ dest: 2, sync: true }));
}
/** A logger that drops everything: for library use and unit tests. */
export function silentLogger() {
    return pino({ level: 'silent' });
}
//# sourceMappingURL=log.js.map