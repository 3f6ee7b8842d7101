/**
 * An error meant for a person: one line saying what went wrong, where, and
 * what to do. The CLI prints `message` and exits with `exitCode`; nothing
 * below src/cli/ calls process.exit.
 */
export class UserError extends Error {
    exitCode;
    constructor(message, exitCode = 2) {
        super(message);
        this.name = 'UserError';
        this.exitCode = exitCode;
    }
}
/** Describe an fs error (ENOSPC, EACCES, ...) for a person, naming the path. */
export function describeFsError(err, what) {
    const e = err;
    const where = e?.path ? ` (${e.path})` : '';
    switch (e?.code) {
        case 'ENOSPC':
            return new UserError(`no space left on device while ${what}${where}: free some disk space and run again`, 74);
        case 'EACCES':
        case 'EPERM':
            return new UserError(`permission denied while ${what}${where}: give this user write access and run again`, 77);
        case 'EROFS':
            return new UserError(`read-only file system while ${what}${where}: point the workspace at a writable folder`, 77);
        case 'EDQUOT':
            return new UserError(`disk quota exceeded while ${what}${where}: free some space and run again`, 74);
        default:
            return new UserError(`${what} failed${where}: ${e?.message ?? String(err)}`, 74);
    }
}
//# sourceMappingURL=errors.js.map