/**
 * The connection to one `redis NAME {}` block (issue 17), through ioredis: a command connection
 * (LRANGE, CONFIG GET, the health lease) and a subscriber connection (keyspace notifications, the
 * health channel). Shared by the snapshots that name the same block with the same settings
 * (`acquire`/`release`), so a reload keeps the connection and what is known.
 *
 * States: 'connecting' (never up yet: the first request of an unknown key waits for it, up to
 * `timeout`), 'up', 'down' (was up, or the first connect failed: commands fail at once, no
 * offline queue, so a request never waits on a dead Redis). Reconnection is ioredis' with a
 * backoff of 50 ms doubling up to 1 s. An outage logs one error line when it starts and a notice
 * when it ends; the users (fed groups) are told on every reconnect, to re-read their keys.
 *
 * Keyspace notifications: the server's `notify-keyspace-events` is read (CONFIG GET) on every
 * connect and never changed: the server is the operator's, and a managed Redis refuses CONFIG SET.
 * Without K plus l and g (or A), or when CONFIG is refused, the users are asked to re-read
 * their keys every POLL_MS instead (the bounded-TTL fallback).
 */
import { randomUUID } from 'node:crypto';
// The type only: ioredis takes ~200 ms to load, so routing.ts loads it when a config has a `redis` block.
import type { Redis } from 'ioredis';
import type { RedisConfig } from '../../config/types.js';
import type { ErrorLogger } from '../../log.js';

export type RedisLinkState = 'connecting' | 'up' | 'down';

/** Fallback refresh period when the server sends no keyspace notifications. */
export const POLL_MS = 1000;
const MAX_BACKOFF_MS = 1000;

/** What a user of the link is told. */
export interface LinkUser {
  /** A key under one of the watched prefixes changed (a notification). */
  keyChanged(key: string): void;
  /** Up again after an outage, or a poll tick without notifications: re-read what is known. */
  refresh(): void;
}

/** Channel message listeners (health_share), by channel. */
export type ChannelListener = (message: string) => void;

export class RedisLink {
  readonly config: RedisConfig;
  /** Canonical settings: two blocks with the same text share the link across a reload. */
  readonly identity: string;
  /** Who this instance is to the others (health_share's lease value): one per connection, so two runtimes in one process differ. */
  readonly instanceId = `${process.pid}-${randomUUID()}`;
  #state: RedisLinkState = 'connecting';
  /** When the state last changed (epoch ms). */
  #since = Date.now();
  #lastError: string | null = null;
  #outages = 0;
  /** Keyspace notifications are on at the server (null: not known yet). */
  #notifications: boolean | null = null;
  readonly #client: Redis;
  readonly #sub: Redis;
  /** The users and the key prefix each watches. */
  readonly #users = new Map<LinkUser, string>();
  /** Watched prefixes and how many users watch each (the last to go unsubscribes). */
  readonly #prefixes = new Map<string, number>();
  readonly #channels = new Map<string, Set<ChannelListener>>();
  readonly #waiters = new Set<() => void>();
  readonly #logger: ErrorLogger;
  #poll: NodeJS.Timeout | null = null;
  /** The subscriber connection dropped since its last subscription. */
  #subLost = false;
  #refs = 0;
  #closed = false;

  /** `client`: ioredis' Redis class (loaded by the caller). */
  constructor(config: RedisConfig, logger: ErrorLogger, client: typeof Redis) {
    this.config = config;
    this.identity = linkIdentity(config);
    this.#logger = logger;
    const s = config.server;
    const options = {
      ...(s.kind === 'unix' ? { path: s.path } : { host: s.host.replace(/^\[|\]$/g, ''), port: s.port }),
      ...(config.password === null ? {} : { password: config.password }),
      db: config.db,
      connectTimeout: config.timeoutMs,
      commandTimeout: config.timeoutMs,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      enableAutoPipelining: true,
      autoResubscribe: false,
      lazyConnect: true,
      retryStrategy: (times: number) => Math.min(50 * 2 ** Math.min(times, 10), MAX_BACKOFF_MS),
    };
    this.#client = new client({ ...options, connectionName: 'tsproxy' });
    this.#sub = new client({ ...options, connectionName: 'tsproxy-sub' });
    this.#client.on('error', (err: Error) => (this.#lastError = err.message));
    this.#sub.on('error', () => {});
    this.#client.on('ready', () => this.#up());
    this.#client.on('close', () => this.#down());
    this.#sub.on('ready', () => this.#subscribe());
    // the subscriber lost notifications while it was away: read what is known again
    this.#sub.on('close', () => (this.#subLost = true));
    this.#sub.on('pmessage', (_pattern: string, channel: string) => this.#notified(channel));
    this.#sub.on('message', (channel: string, message: string) => {
      for (const l of this.#channels.get(channel) ?? []) l(message);
    });
    this.#client.connect().catch(() => {});
    this.#sub.connect().catch(() => {});
  }

  get name(): string {
    return this.config.name;
  }

  get state(): RedisLinkState {
    return this.#state;
  }

  /** For the status page: state, since when, the last connection error, outages so far, notifications. */
  get info(): { state: RedisLinkState; sinceMs: number; lastError: string | null; outages: number; notifications: boolean | null } {
    return { state: this.#state, sinceMs: this.#since, lastError: this.#lastError, outages: this.#outages, notifications: this.#notifications };
  }

  acquire(): this {
    this.#refs++;
    return this;
  }

  /** One user of the link is done; the last closes it. */
  release(): void {
    if (--this.#refs <= 0) this.close();
  }

  addUser(user: LinkUser, prefix: string): void {
    if (this.#users.has(user)) return;
    this.#users.set(user, prefix);
    const n = this.#prefixes.get(prefix) ?? 0;
    this.#prefixes.set(prefix, n + 1);
    if (n === 0 && this.#sub.status === 'ready') this.#sub.psubscribe(this.#pattern(prefix)).catch(() => {});
  }

  /** A user is gone (its snapshot retired, or a rejected one undone): a prefix nobody watches is unsubscribed. */
  removeUser(user: LinkUser): void {
    const prefix = this.#users.get(user);
    if (prefix === undefined) return;
    this.#users.delete(user);
    const n = this.#prefixes.get(prefix)! - 1;
    if (n > 0) {
      this.#prefixes.set(prefix, n);
      return;
    }
    this.#prefixes.delete(prefix);
    if (this.#sub.status === 'ready') this.#sub.punsubscribe(this.#pattern(prefix)).catch(() => {});
  }

  /** Messages of a pub/sub channel (health_share). */
  listen(channel: string, listener: ChannelListener): () => void {
    let set = this.#channels.get(channel);
    if (set === undefined) {
      this.#channels.set(channel, (set = new Set()));
      if (this.#sub.status === 'ready') this.#sub.subscribe(channel).catch(() => {});
    }
    set.add(listener);
    return () => set.delete(listener);
  }

  /** The command connection (fails at once while Redis is not up). */
  get client(): Redis {
    return this.#client;
  }

  /** Resolves true once up (at once when up), false after `timeoutMs` or when the link is down. */
  whenUp(timeoutMs: number): Promise<boolean> {
    if (this.#state === 'up') return Promise.resolve(true);
    if (this.#state === 'down') return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#waiters.delete(done);
        resolve(this.#state === 'up');
      };
      const timer = setTimeout(done, timeoutMs);
      this.#waiters.add(done);
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#stopPolling();
    for (const w of [...this.#waiters]) w();
    this.#client.disconnect();
    this.#sub.disconnect();
  }

  #pattern(prefix: string): string {
    return `__keyspace@${this.config.db}__:${escapeGlob(prefix)}*`;
  }

  #notified(channel: string): void {
    const key = channel.slice(channel.indexOf('__:') + 3);
    for (const u of this.#users.keys()) u.keyChanged(key);
  }

  #subscribe(): void {
    if (this.#subLost && this.#state === 'up') for (const u of this.#users.keys()) u.refresh();
    this.#subLost = false;
    for (const prefix of this.#prefixes.keys()) this.#sub.psubscribe(this.#pattern(prefix)).catch(() => {});
    for (const channel of this.#channels.keys()) this.#sub.subscribe(channel).catch(() => {});
  }

  #setState(state: RedisLinkState): void {
    this.#state = state;
    this.#since = Date.now();
    for (const w of [...this.#waiters]) w();
  }

  #up(): void {
    if (this.#closed) return;
    const wasDown = this.#state === 'down';
    this.#setState('up');
    this.#lastError = null;
    if (wasDown) this.#logger.notice({ redis: this.name }, `redis "${this.name}" is reachable again`);
    this.#checkNotifications();
    // changes made while it was down (or before a reload's link came up) are read again
    for (const u of this.#users.keys()) u.refresh();
  }

  #down(): void {
    if (this.#closed || this.#state === 'down') return;
    this.#setState('down');
    this.#outages++;
    this.#stopPolling();
    const s = this.config.server;
    const where = s.kind === 'unix' ? `unix:${s.path}` : `${s.host}:${s.port}`;
    this.#logger.error(
      { code: 'TSP_ERR_REDIS', redis: this.name },
      `redis "${this.name}" at ${where} is unreachable (${this.#lastError ?? 'connection closed'}); known keys keep their last peers, unknown keys get 502 until it is back`,
    );
  }

  #checkNotifications(): void {
    this.#client.config('GET', 'notify-keyspace-events').then(
      (reply) => this.#setNotifications(notificationsOn(String((reply as string[])[1] ?? ''))),
      () => this.#setNotifications(false),
    );
  }

  #setNotifications(on: boolean): void {
    if (this.#closed) return;
    if (!on && this.#notifications !== false) {
      this.#logger.notice({ redis: this.name }, `redis "${this.name}" sends no keyspace notifications (notify-keyspace-events lacks "Klg"): known keys are read again every ${POLL_MS} ms`);
    }
    this.#notifications = on;
    if (on) this.#stopPolling();
    else if (this.#poll === null && this.#state === 'up') {
      this.#poll = setInterval(() => {
        for (const u of this.#users.keys()) u.refresh();
      }, POLL_MS);
      this.#poll.unref();
    }
  }

  #stopPolling(): void {
    if (this.#poll !== null) clearInterval(this.#poll);
    this.#poll = null;
  }
}

/** The settings that make two blocks the same connection. */
export function linkIdentity(c: RedisConfig): string {
  return JSON.stringify([c.name, c.server, c.password, c.db, c.timeoutMs]);
}

/** notify-keyspace-events sends what a fed group needs: keyspace events of list and generic commands. */
export function notificationsOn(flags: string): boolean {
  return flags.includes('K') && (flags.includes('A') || (flags.includes('l') && flags.includes('g')));
}

function escapeGlob(s: string): string {
  return s.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}
