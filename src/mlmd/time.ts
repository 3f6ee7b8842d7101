/**
 * Times are integer milliseconds supplied by the caller. A fractional number
 * would be stored as REAL in an INT column, and the library CHECK-fails
 * (aborts the process) when it reads one.
 */
export function checkMs(ms: number, what: string): number {
  if (!Number.isSafeInteger(ms) || ms < 0) throw new RangeError(`${what}: time ${ms} is not a non-negative integer of milliseconds`);
  return ms;
}

export function checkId(id: number, what: string): number {
  if (!Number.isSafeInteger(id) || id <= 0) throw new RangeError(`${what}: ${id} is not a valid id`);
  return id;
}
