/**
 * A relay's own connection: it LISTENs for wake-ups and, on the leader, holds the table's
 * session-level advisory lock. Claims run on this connection, so a relay can only claim while
 * the session that holds the lock is alive: if the connection dies, the lock goes with it and
 * the next claim fails instead of racing the new leader.
 */
import type { Notification, Pool, PoolClient } from 'pg';
import type { ClaimedRow, Statements } from './statements.js';

export class RelaySession {
  private lost = false;
  private locked = false;
  private released = false;

  private constructor(
    private readonly client: PoolClient,
    private readonly sql: Statements,
    private readonly lockName: string,
  ) {}

  /** Check out a connection and LISTEN on the channel; `onLost` runs once if the connection fails. */
  static async open(pool: Pool, sql: Statements, channel: string, lockName: string, onNotify: (payload: string) => void, onLost: (err: Error) => void): Promise<RelaySession> {
    const client = await pool.connect();
    const session = new RelaySession(client, sql, lockName);
    client.on('error', (err: Error) => {
      if (session.lost) return;
      session.lost = true;
      session.locked = false;
      onLost(err);
    });
    client.on('notification', (n: Notification) => {
      if (n.channel === channel) onNotify(n.payload ?? '');
    });
    try {
      // Named so a relay's connection is easy to find in pg_stat_activity (the lock holder in pg_locks).
      await client.query("SET application_name TO 'switchyard-outbox-relay'");
      await client.query(`LISTEN "${channel.replace(/"/g, '""')}"`);
    } catch (err) {
      session.destroy();
      throw err;
    }
    return session;
  }

  get alive(): boolean {
    return !this.lost;
  }

  get leader(): boolean {
    return this.locked && !this.lost;
  }

  /** Try once, without waiting: true when this session now holds (or already held) the leader lock. */
  async tryLock(): Promise<boolean> {
    if (this.locked) return true;
    const { rows } = await this.client.query<{ locked: boolean }>(this.sql.tryLock, [this.lockName]);
    this.locked = rows[0]?.locked === true;
    return this.locked;
  }

  /** Give the lock back explicitly, so a standby can take it the moment it hears 'released'. */
  async unlock(): Promise<void> {
    if (!this.locked) return;
    this.locked = false;
    await this.client.query(this.sql.unlock, [this.lockName]);
  }

  async claim(batchSize: number, relayId: string, leaseMs: number): Promise<ClaimedRow[]> {
    const { rows } = await this.client.query<ClaimedRow>(this.sql.claim, [batchSize, relayId, leaseMs]);
    return rows;
  }

  async renewLease(relayId: string, leaseMs: number): Promise<void> {
    await this.client.query(this.sql.renewLease, [relayId, leaseMs]);
  }

  /**
   * Close the connection rather than return it to the pool: that drops the advisory lock and the
   * LISTEN with it, so a pooled connection never carries a relay's session state to someone else.
   */
  destroy(): void {
    this.lost = true;
    this.locked = false;
    if (this.released) return;
    this.released = true;
    this.client.release(true);
  }
}
