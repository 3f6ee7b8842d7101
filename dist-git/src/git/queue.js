/**
 * Runs async jobs one at a time, in call order. isomorphic-git does not
 * support concurrent operations on one repository (isomorphic-git #1278), so
 * every call into a WorkspaceRepo goes through one of these.
 */
export class SerialQueue {
    tail = Promise.resolve();
    run(job) {
        const result = this.tail.then(job, job);
        // A failed job must not stop the ones queued after it.
        this.tail = result.catch(() => undefined);
        return result;
    }
}
//# sourceMappingURL=queue.js.map