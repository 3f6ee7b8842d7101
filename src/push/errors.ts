import { UserError, describeFsError } from '../errors.js';

/** Exit code when the node's services (broker, upload path) cannot take the delivery (EX_UNAVAILABLE). */
export const EXIT_UNAVAILABLE = 69;

/**
 * A delivery step failed. `retry` says whether trying again later in the same
 * run may help (broker restarting, disk filling and draining); the message is
 * the one line a person sees when the attempts are used up.
 */
export class DeliveryError extends UserError {
  constructor(
    message: string,
    exitCode: number,
    readonly retry: boolean,
  ) {
    super(message, exitCode);
    this.name = 'DeliveryError';
  }
}

const TRANSIENT_FS = new Set(['ENOSPC', 'EDQUOT', 'EIO', 'EAGAIN', 'EBUSY']);

/** An fs error while delivering, as a DeliveryError (disk full is worth retrying; permissions are not). */
export function fsDeliveryError(err: unknown, what: string): UserError {
  if (err instanceof UserError) return err;
  const code = (err as NodeJS.ErrnoException)?.code;
  if (!code) throw err;
  const u = describeFsError(err, what);
  return new DeliveryError(u.message, u.exitCode, TRANSIENT_FS.has(code));
}
