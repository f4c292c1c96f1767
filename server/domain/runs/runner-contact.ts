interface Contact {
  attempt: number;
  heardAt: number;
  /** The last log batch of this attempt that was stored (-1: none yet). */
  logSeq: number;
}

/**
 * What this server process heard from runners, kept in memory because it must hold while the
 * database cannot be written: a runner whose heartbeats arrive during an outage is alive even
 * though its run's heartbeat_at goes stale, and a log batch it retries after losing our answer
 * was already stored. Entries go when a run has been silent for the stall window (prune).
 */
export class RunnerContact {
  private readonly runs = new Map<number, Contact>();

  /** Called on every request of a runner about its attempt, before anything can fail. */
  heard(runId: number, attempt: number, now = Date.now()): void {
    const contact = this.runs.get(runId);
    if (contact?.attempt === attempt) contact.heardAt = now;
    // Attempts only grow: a replaced runner still calling about its old attempt must not reset the new one's entry.
    else if (!contact || contact.attempt < attempt) this.runs.set(runId, { attempt, heardAt: now, logSeq: -1 });
  }

  heardSince(runId: number, attempt: number, since: number): boolean {
    const contact = this.runs.get(runId);
    return contact?.attempt === attempt && contact.heardAt >= since;
  }

  /** Whether log batch `seq` of this attempt is already stored. */
  logged(runId: number, attempt: number, seq: number): boolean {
    const contact = this.runs.get(runId);
    return contact?.attempt === attempt && contact.logSeq >= seq;
  }

  stored(runId: number, attempt: number, seq: number): void {
    const contact = this.runs.get(runId);
    if (contact?.attempt === attempt) contact.logSeq = Math.max(contact.logSeq, seq);
  }

  prune(silentSince: number): void {
    for (const [runId, contact] of this.runs) if (contact.heardAt < silentSince) this.runs.delete(runId);
  }
}
