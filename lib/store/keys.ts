/** Every key the Redis stores use, built in one place. */
export function keysFor(prefix: string) {
  return {
    job: (jobId: string) => `${prefix}:job:${jobId}`,
    lease: (jobId: string) => `${prefix}:lease:${jobId}`,
    counter: (name: string) => `${prefix}:counter:${name}`,
    /** Hash: a start's reservation (token, fingerprint; job and replayed once made). TTL: its window, then its replay time. */
    startReservation: (id: string) => `${prefix}:start:${id}`,
    /** Sorted set: unfinished job ids scored by the codec's activeAt (lib/jobs/job-store.ts). */
    active: () => `${prefix}:active`,
    /** Sorted set: the same ids scored by when their record expires, so no entry outlives its job. */
    activeExpiry: () => `${prefix}:active-expiry`,
    /** Sorted set: an owner's record ids scored by creation time. TTL: the record's, plus RETENTION_MARGIN_MS. */
    owner: (owner: string) => `${prefix}:owner:${owner}`,
    /**
     * Sorted set: every record id scored by when its record expires, kept past that (RETENTION_MARGIN_MS)
     * so a sweep can delete the record's files once it is gone. Left only by `delete`.
     */
    retention: () => `${prefix}:retention`,
    /** Hash: record id → its owner, so `delete` finds the owner index after the record expired. */
    retentionOwners: () => `${prefix}:retention-owners`,
  };
}

export type Keys = ReturnType<typeof keysFor>;
