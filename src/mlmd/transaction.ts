import type { Statements } from './sqljs.js';

/**
 * Nesting-safe transactions: the outermost level is BEGIN/COMMIT, inner
 * levels are SAVEPOINTs so an inner failure the caller catches undoes only
 * its own part. Callbacks must be synchronous: an `await` inside would let a
 * save (db.export()) run mid-transaction (field fault B10).
 */
export class Transactions {
  private depthValue = 0;

  constructor(
    private readonly q: Statements,
    private readonly onRollback: () => void,
  ) {}

  get depth(): number {
    return this.depthValue;
  }

  run<T>(fn: () => T): T {
    const outer = this.depthValue === 0;
    const sp = `mlmd_sp_${this.depthValue}`;
    this.q.run(outer ? 'BEGIN' : `SAVEPOINT ${sp}`, []);
    this.depthValue++;
    let result: T;
    try {
      result = fn();
      if (result !== null && typeof (result as { then?: unknown })?.then === 'function') {
        throw new Error('MlmdStore.transaction: the callback returned a Promise; transactions must be synchronous (no await inside)');
      }
    } catch (err) {
      this.depthValue--;
      this.rollback(outer, sp);
      throw err;
    }
    this.depthValue--;
    try {
      this.q.run(outer ? 'COMMIT' : `RELEASE ${sp}`, []);
    } catch (err) {
      this.rollback(outer, sp);
      throw err;
    }
    return result;
  }

  private rollback(outer: boolean, sp: string): void {
    try {
      if (outer) {
        this.q.run('ROLLBACK', []);
      } else {
        this.q.run(`ROLLBACK TO ${sp}`, []);
        this.q.run(`RELEASE ${sp}`, []);
      }
    } catch {
      // SQLite may already have rolled back by itself (e.g. SQLITE_FULL); the original error matters more.
    } finally {
      this.onRollback();
    }
  }
}
