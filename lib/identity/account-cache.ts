import type pg from 'pg';
import type { Db } from '../db/database.js';
import { listenOn } from '../db/listener.js';
import { errorFields, logger } from '../logger.js';
import { findUser, type AccountUser } from './user-service.js';

/** The channel a change to an account is announced on (a trigger on identity.users, after commit). */
export const ACCOUNT_CHANNEL = 'identity_account_changed';

const MAX_ACCOUNTS = 50_000;

/**
 * The accounts behind live sessions, kept in memory so a request does not read its user again: every
 * change to an account (role, password, session version, name) is announced by PostgreSQL after its
 * commit and drops that account here. While the announcements cannot be heard (the listener is
 * down or not yet up) nothing is cached and every read goes to the database, so a role change or an
 * ended session is never missed.
 */
export class AccountCache {
  private readonly accounts = new Map<string, AccountUser>();
  private listener: pg.Client | null = null;
  /** Counts every announcement (and every loss of the listener): a read that spans one is not kept. */
  private generation = 0;
  private stopped = false;
  private retry: NodeJS.Timeout | null = null;

  constructor(
    private readonly db: Db,
    private readonly options: { databaseUrl: string; retryMs?: number },
  ) {}

  async start(): Promise<void> {
    await this.listen().catch((error: unknown) => {
      logger.warn('account listener not up; reading accounts from the database', errorFields(error));
      this.scheduleRelisten();
    });
  }

  async find(id: string): Promise<AccountUser | null> {
    const cached = this.listener ? this.accounts.get(id) : undefined;
    if (cached) return cached;
    const generation = this.generation;
    const account = await findUser(this.db, id);
    if (account && this.listener && generation === this.generation) {
      this.accounts.set(id, account);
      if (this.accounts.size > MAX_ACCOUNTS) this.accounts.delete(this.accounts.keys().next().value!);
    }
    return account;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    const listener = this.listener;
    this.forget();
    await listener?.end().catch(() => {});
  }

  private forget(): void {
    this.listener = null;
    this.generation++;
    this.accounts.clear();
  }

  private async listen(): Promise<void> {
    const client = await listenOn(this.options.databaseUrl, ACCOUNT_CHANNEL, {
      notification: (id) => {
        this.generation++;
        if (id) this.accounts.delete(id);
      },
      lost: (error) => {
        if (this.listener !== client) return;
        logger.warn('account listener lost; reading accounts from the database until it is back', {
          ...(error ? errorFields(error) : {}),
        });
        this.forget();
        this.scheduleRelisten();
      },
    });
    if (this.stopped) {
      await client.end().catch(() => {});
      return;
    }
    this.listener = client;
    // A read that began before anything was heard may hold a change made meanwhile: it is not kept.
    this.generation++;
  }

  private scheduleRelisten(): void {
    if (this.stopped || this.retry) return;
    this.retry = setTimeout(() => {
      this.retry = null;
      if (this.stopped || this.listener) return;
      this.listen().catch(() => this.scheduleRelisten());
    }, this.options.retryMs ?? 1_000);
    this.retry.unref();
  }
}
