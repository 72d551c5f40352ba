// @taskboard/client: the JavaScript client of the taskboard HTTP API.
//
// One ES module without dependencies. It runs in browsers and in Node 18 or
// later (global fetch; WebSocket where the runtime has one). Everything
// that depends on the environment (fetch, WebSocket, timers' clock, the
// idempotency key generator) can be passed in through the options.
//
// The wire contract is the server's docs/API.md.

/** The version of this package; the server serves it under /client/v<major>/. */
export const VERSION = '1.0.0';

const DEFAULT_MIN_DELAY = 1000;
const DEFAULT_MAX_DELAY = 30000;
const STABLE_AFTER = 10000; // a connection up this long resets the backoff
const OPEN_TIMEOUT = 10000; // an attempt that has not opened by then failed
const PING_EVERY = 20000; // WebSocket keepalive
const SILENCE_LIMIT = 45000; // a stream silent this long is dead
const POLL_TIMEOUT = 25; // seconds a long poll is held
const PRESENCE_EVERY = 10000; // presence refresh while long polling
const KEYS_KEPT = 2000; // idempotency keys remembered to recognise own events
const WRITE_RETRIES = 6; // transient answers (429, 5xx, 409 in flight) retried

/** The reasons of a reset after which a board is no longer followed. */
const STOPPING = new Set(['access_revoked', 'board_deleted', 'not_found']);

/**
 * newKey returns a fresh idempotency key (a random UUID).
 * @returns {string}
 */
export function newKey() {
  const c = globalThis.crypto;
  if (c?.randomUUID) {
    try { return c.randomUUID(); } catch { /* not a secure context */ }
  }
  const b = new Uint8Array(16);
  if (c?.getRandomValues) c.getRandomValues(b);
  else for (let i = 0; i < 16; i++) b[i] = Math.floor(Math.random() * 256);
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * backoff returns the delay in ms before retry attempt n (0-based):
 * exponential from min to max, with jitter (between half and all of it).
 */
export function backoff(n, min = DEFAULT_MIN_DELAY, max = DEFAULT_MAX_DELAY) {
  const ceiling = Math.min(max, min * 2 ** Math.min(n, 30));
  return Math.max(min, Math.round(ceiling / 2 + Math.random() * ceiling / 2));
}

/** parseCursor reads a composite cursor "board-1:12,board-2:7" into an object. */
export function parseCursor(s) {
  const out = {};
  for (const part of String(s ?? '').split(',')) {
    const i = part.lastIndexOf(':');
    if (i <= 0) continue;
    const seq = Number(part.slice(i + 1));
    if (Number.isInteger(seq) && seq >= 0) out[part.slice(0, i)] = seq;
  }
  return out;
}

/** formatCursor writes {board: seq} as a composite cursor, boards sorted by id. */
export function formatCursor(seqs) {
  return Object.keys(seqs).sort().filter((b) => Number.isInteger(seqs[b]))
    .map((b) => `${b}:${seqs[b]}`).join(',');
}

/**
 * TaskboardError is a failed request. status is the HTTP status, or 0 when
 * the server was not reached (network failure, aborted). message is the
 * server's error text; fields its field errors (400 validation:
 * [{path, message}]). For a 410 (a resume point that needs a reset) reason
 * and seq say why and where to resume. retryAfter is in seconds (429, 503).
 */
export class TaskboardError extends Error {
  constructor(status, message, { body = null, fields = [], reason = null, seq = null, retryAfter = null, cause } = {}) {
    super(message, cause ? { cause } : undefined);
    this.name = 'TaskboardError';
    this.status = status;
    this.body = body;
    this.fields = fields;
    this.reason = reason;
    this.seq = seq;
    this.retryAfter = retryAfter;
  }

  /** The server was not reached. */
  get isNetwork() { return this.status === 0; }
  /** A resume point that needs a reset (410): see reason and seq. */
  get isReset() { return this.status === 410; }
  get isUnauthorized() { return this.status === 401; }
  get isForbidden() { return this.status === 403; }
  get isNotFound() { return this.status === 404; }
  get isConflict() { return this.status === 409; }
  /** An If-Match that no longer matches (412): the row changed meanwhile. */
  get isPreconditionFailed() { return this.status === 412; }
  get isValidation() { return this.status === 400 && this.fields.length > 0; }
  get isRateLimited() { return this.status === 429; }
}

/** errorOf turns an answer's status and body into a TaskboardError. */
function errorOf(status, statusText, body, headers) {
  let message = `${status} ${statusText ?? ''}`.trim();
  let fields = [];
  const e = body && typeof body === 'object' ? body.error : undefined;
  if (typeof e === 'string') message = e;
  else if (Array.isArray(e)) {
    fields = e.map((f) => ({ path: Array.isArray(f?.path) ? f.path : [], message: String(f?.message ?? '') }));
    message = fields.map((f) => (f.path.length ? `${f.path.join('.')}: ${f.message}` : f.message)).join('; ') || message;
  }
  const ra = Number(headers?.get?.('Retry-After'));
  return new TaskboardError(status, message, {
    body,
    fields,
    reason: body?.reason ?? null,
    seq: Number.isInteger(body?.seq) ? body.seq : null,
    retryAfter: Number.isFinite(ra) && ra > 0 ? ra : null,
  });
}

/** sleep resolves after ms, or rejects when signal aborts. */
function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) { reject(signal.reason); return; }
    const t = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve(); }, ms);
    const onAbort = () => { clearTimeout(t); reject(signal.reason); };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

const seg = (s) => encodeURIComponent(String(s));

/** Emitter is a minimal event emitter: on(type, fn) → off function. */
class Emitter {
  constructor() { this._handlers = new Map(); }
  on(type, fn) {
    if (!this._handlers.has(type)) this._handlers.set(type, new Set());
    this._handlers.get(type).add(fn);
    return () => this._handlers.get(type)?.delete(fn);
  }
  off(type, fn) { this._handlers.get(type)?.delete(fn); }
  emit(type, value) {
    for (const fn of [...(this._handlers.get(type) ?? [])]) {
      try { fn(value); } catch (err) { queueMicrotask(() => { throw err; }); }
    }
  }
}

/**
 * TaskboardClient talks to one taskboard server.
 *
 * Authentication: options.token sends `Authorization: Bearer <token>`;
 * without a token, a browser's session cookie is used (credentials
 * "same-origin" by default; "include" for another origin that allows it).
 *
 * Writes carry an Idempotency-Key (generated, or opts.key) and are sent in
 * the order they were made. One that cannot reach the server, or that is
 * made while a live connection of follow() is down, is held, keeps its key
 * and is sent when the connection is back: its promise settles then.
 * `pending` counts held and unanswered writes; the "status" event says
 * when that or the online state changes. A write the server refuses (4xx)
 * is rejected and reported on the "rejected" event, never retried.
 *
 * Own mutations: every key this client sends is remembered, and events
 * whose mutationId is one of them arrive from follow() with `own: true`.
 *
 * Events of the client (client.on(type, fn) returns a function that
 * removes fn): "status" {online, pending}, "rejected" {error, method, path,
 * key}, "unauthorized" (a 401: sign in again).
 */
export class TaskboardClient {
  /**
   * @param {object} [options]
   * @param {string|URL} [options.baseURL] the server's API base; in a
   *   module served by the server itself, defaults to the base it was served under
   * @param {string} [options.token] a bearer token
   * @param {RequestCredentials} [options.credentials]
   * @param {typeof fetch} [options.fetch]
   * @param {typeof WebSocket} [options.WebSocket]
   * @param {() => string} [options.newKey]
   * @param {number} [options.minDelay] backoff start in ms (1000)
   * @param {number} [options.maxDelay] backoff ceiling in ms (30000)
   */
  constructor(options = {}) {
    let base = options.baseURL;
    if (base == null) {
      const here = import.meta.url;
      if (/^https?:/.test(here)) base = new URL('../../', here);
      else if (globalThis.location?.href) base = new URL('./', globalThis.location.href);
      else throw new TypeError('TaskboardClient: baseURL is required');
    }
    base = new URL(String(base));
    if (!base.pathname.endsWith('/')) base.pathname += '/';
    this.baseURL = base;
    this.token = options.token ?? null;
    this.credentials = options.credentials ?? 'same-origin';
    if (!options.fetch && typeof globalThis.fetch !== 'function') throw new TypeError('TaskboardClient: no fetch; pass options.fetch');
    // The global is looked up at each call, so that a fetch wrapped later
    // (by a service worker shim, a test) is the one used.
    this._fetch = options.fetch ?? ((...args) => globalThis.fetch(...args));
    this._WebSocket = options.WebSocket === undefined ? globalThis.WebSocket : options.WebSocket;
    this._newKey = options.newKey ?? newKey;
    this.minDelay = options.minDelay ?? DEFAULT_MIN_DELAY;
    this.maxDelay = options.maxDelay ?? DEFAULT_MAX_DELAY;
    this._events = new Emitter();
    this._keys = new Set(); // keys sent, to recognise own events
    this._queue = []; // writes in order: {method, path, body, key, headers, resolve, reject}
    this._sending = false;
    this._online = true; // the last request reached the server
    this._retryTimer = null;
    this._retryAttempt = 0;
    this._followers = new Set();
    this._closed = false;
    if (typeof globalThis.addEventListener === 'function' && typeof globalThis.navigator?.onLine === 'boolean') {
      this._onOnline = () => this.retryNow();
      globalThis.addEventListener('online', this._onOnline);
    }
  }

  /** on subscribes fn to the client's events ("status", "rejected", "unauthorized"). */
  on(type, fn) { return this._events.on(type, fn); }

  /** The number of writes not yet answered (held ones included). */
  get pending() { return this._queue.length; }

  /** Whether the server is reachable, as far as the client knows. */
  get online() { return this._online && !this._linkDown(); }

  /** The held and in-flight writes: [{method, path, key}]. */
  get pendingWrites() { return this._queue.map(({ method, path, key }) => ({ method, path, key })); }

  /** isOwn reports whether a mutationId is the key of one of this client's writes. */
  isOwn(mutationId) { return mutationId != null && this._keys.has(mutationId); }

  /** url returns the URL of an API path under the base. */
  url(path) { return new URL(String(path).replace(/^\/+/, ''), this.baseURL); }

  _headers(extra = {}) {
    const h = { Accept: 'application/json', ...extra };
    if (this.token) h.Authorization = `Bearer ${this.token}`;
    return h;
  }

  _rememberKey(key) {
    this._keys.add(key);
    if (this._keys.size > KEYS_KEPT) this._keys.delete(this._keys.values().next().value);
  }

  _setOnline(on) {
    if (this._online === on) return;
    this._online = on;
    this._status();
  }

  _status() {
    this._events.emit('status', { online: this.online, pending: this.pending });
  }

  _linkDown() {
    for (const f of this._followers) if (f._down) return true;
    return false;
  }

  /**
   * request sends one request and resolves to {status, body, etag,
   * headers}. GETs are retried on network failures (retries, default 2).
   * Not for writes with keys: see write.
   */
  async request(method, path, { body, headers = {}, signal, retries = method === 'GET' ? 2 : 0, auth = true, raw = false, token } = {}) {
    const hdrs = auth ? this._headers(headers) : { Accept: 'application/json', ...headers };
    if (token) hdrs.Authorization = `Bearer ${token}`;
    if (body !== undefined) hdrs['Content-Type'] = 'application/json';
    for (let attempt = 0; ; attempt++) {
      let res;
      try {
        res = await this._fetch(this.url(path), {
          method,
          headers: hdrs,
          body: body === undefined ? undefined : (typeof body === 'string' ? body : JSON.stringify(body)),
          credentials: this.credentials,
          cache: 'no-store',
          signal,
        });
      } catch (err) {
        if (signal?.aborted) throw new TaskboardError(0, 'Aborted', { cause: err });
        if (attempt < retries) {
          await sleep(backoff(attempt, 200, 2000), signal);
          continue;
        }
        this._setOnline(false);
        throw new TaskboardError(0, "Can't reach the server", { cause: err });
      }
      this._setOnline(true);
      let data = null;
      if (raw) data = await res.text().catch(() => null);
      else if (res.status !== 204 && res.status !== 304) {
        const text = await res.text().catch(() => '');
        try { data = text ? JSON.parse(text) : null; } catch { data = text; }
      }
      if (res.status === 401 && auth) this._events.emit('unauthorized', {});
      if (!res.ok && res.status !== 304) throw errorOf(res.status, res.statusText, data, res.headers);
      return { status: res.status, body: data, etag: res.headers.get('ETag'), headers: res.headers };
    }
  }

  async _get(path, opts) { return (await this.request('GET', path, opts)).body; }

  /**
   * write sends a write (POST, PATCH, DELETE) with an Idempotency-Key, in
   * order with the client's other writes; see the class comment for holding
   * and retrying. opts: key (else generated), version (If-Match), headers,
   * idempotent (false: no key, for routes that take none). Resolves to the
   * answer's body (null for 204).
   */
  write(method, path, body, opts = {}) {
    const key = opts.idempotent === false ? null : (opts.key ?? this._newKey());
    const headers = { ...(opts.headers ?? {}) };
    if (key) {
      headers['Idempotency-Key'] = key;
      this._rememberKey(key);
    }
    if (opts.version != null && opts.version > 0) headers['If-Match'] = `"${opts.version}"`;
    return new Promise((resolve, reject) => {
      this._queue.push({ method, path, body, key, headers, resolve, reject, hold: key != null });
      this._status();
      this._drain();
    });
  }

  /** retryNow sends held writes at once (e.g. when the browser says it is online). */
  retryNow() {
    clearTimeout(this._retryTimer);
    this._retryTimer = null;
    this._drain();
  }

  async _drain() {
    if (this._sending || this._closed) return;
    this._sending = true;
    try {
      while (this._queue.length && !this._closed) {
        if (this._linkDown() || this._retryTimer) return; // held: resumed by the link or the timer
        const w = this._queue[0];
        let outcome;
        try {
          outcome = { ok: await this._sendWrite(w) };
        } catch (err) {
          if (err instanceof TaskboardError && err.isNetwork && w.hold) {
            // Held: the same write, same key, goes again later.
            this._setOnline(false);
            const delay = backoff(this._retryAttempt++, this.minDelay, this.maxDelay);
            this._retryTimer = setTimeout(() => { this._retryTimer = null; this._drain(); }, delay);
            this._status();
            return;
          }
          outcome = { err };
        }
        this._retryAttempt = 0;
        this._queue.shift();
        this._status();
        if (outcome.err) {
          if (outcome.err instanceof TaskboardError && outcome.err.status >= 400 && outcome.err.status < 500) {
            this._events.emit('rejected', { error: outcome.err, method: w.method, path: w.path, key: w.key });
          }
          w.reject(outcome.err);
        } else {
          w.resolve(outcome.ok);
        }
      }
    } finally {
      this._sending = false;
    }
  }

  // _sendWrite sends one write; transient answers (429, 5xx, 409 while the
  // same key is in flight) are retried with the same key.
  async _sendWrite(w) {
    for (let attempt = 0; ; attempt++) {
      try {
        return (await this.request(w.method, w.path, { body: w.body, headers: w.headers, retries: w.key ? 1 : 0 })).body;
      } catch (err) {
        if (!(err instanceof TaskboardError) || err.isNetwork || attempt >= WRITE_RETRIES || !w.key) throw err;
        const transient = err.status === 429 || err.status >= 500 ||
          (err.status === 409 && /in progress|in flight/i.test(err.message));
        if (!transient) throw err;
        await sleep(err.retryAfter ? Math.min(err.retryAfter * 1000, 30000) : backoff(attempt, 250, 8000));
      }
    }
  }

  // ---- REST routes (docs/API.md) ----

  /** GET /health: resolves to {status:"ok"}. */
  health() { return this._get('health', { auth: false }); }
  /** GET /ready: resolves when the database is reachable (503 otherwise). */
  ready() { return this._get('ready', { auth: false }); }
  /** GET /openapi.json: the OpenAPI document. */
  openapi() { return this._get('openapi.json', { auth: false }); }
  /** GET /users/me: the caller. */
  me(opts) { return this._get('users/me', opts); }
  /** GET /boards: the caller's boards. */
  async boards(opts) { return (await this._get('boards', opts)).data; }
  /** POST /boards: a new board owned by the caller. */
  createBoard(name, opts) { return this.write('POST', 'boards', { name }, opts); }
  /**
   * GET /boards/{boardId}: the snapshot {board, lists, tasks, members, seq}.
   * opts.etag sends If-None-Match: unchanged resolves to null.
   */
  async snapshot(boardId, opts = {}) {
    const headers = opts.etag ? { 'If-None-Match': opts.etag } : {};
    const res = await this.request('GET', `boards/${seg(boardId)}`, { ...opts, headers });
    return res.status === 304 ? null : res.body;
  }
  /** PATCH /boards/{boardId}: renames a board. */
  renameBoard(boardId, name, opts) { return this.write('PATCH', `boards/${seg(boardId)}`, { name }, opts); }
  /** DELETE /boards/{boardId}. */
  deleteBoard(boardId, opts) { return this.write('DELETE', `boards/${seg(boardId)}`, undefined, opts); }
  /** GET /boards/{boardId}/tasks: the board's tasks in display order. */
  async tasks(boardId, opts) { return (await this._get(`boards/${seg(boardId)}/tasks`, opts)).data; }
  /** POST /boards/{boardId}/members: member {userId|email, role?}. */
  addMember(boardId, member, opts) { return this.write('POST', `boards/${seg(boardId)}/members`, member, opts); }
  /** PATCH /boards/{boardId}/members/{userId}: changes a member's role. */
  setRole(boardId, userId, role, opts) { return this.write('PATCH', `boards/${seg(boardId)}/members/${seg(userId)}`, { role }, opts); }
  /** DELETE /boards/{boardId}/members/{userId}. */
  removeMember(boardId, userId, opts) { return this.write('DELETE', `boards/${seg(boardId)}/members/${seg(userId)}`, undefined, opts); }
  /** GET /boards/{boardId}/presence: who is present. */
  async presence(boardId, opts) { return (await this._get(`boards/${seg(boardId)}/presence`, opts)).data; }
  /** POST /boards/{boardId}/lists: a new list (position: default last). */
  createList(boardId, name, position, opts) {
    const body = { name };
    if (position != null) body.position = position;
    return this.write('POST', `boards/${seg(boardId)}/lists`, body, opts);
  }
  /** PATCH /lists/{id}: renames a list (opts.version: If-Match). */
  renameList(listId, name, opts) { return this.write('PATCH', `lists/${seg(listId)}`, { name }, opts); }
  /** PATCH /lists/{id}/move. */
  moveList(listId, position, opts) { return this.write('PATCH', `lists/${seg(listId)}/move`, { position }, opts); }
  /** DELETE /lists/{id}: the list and its tasks. */
  deleteList(listId, opts) { return this.write('DELETE', `lists/${seg(listId)}`, undefined, opts); }
  /** POST /tasks: task {title, listId, description?, assigneeId?, position?}. */
  createTask(task, opts) { return this.write('POST', 'tasks', task, opts); }
  /** GET /tasks/{id}. */
  task(taskId, opts) { return this._get(`tasks/${seg(taskId)}`, opts); }
  /** PATCH /tasks/{id}: {title?, description?, assigneeId?} (null clears). */
  updateTask(taskId, patch, opts) { return this.write('PATCH', `tasks/${seg(taskId)}`, patch, opts); }
  /** PATCH /tasks/{id}/move: to position in listId. */
  moveTask(taskId, listId, position, opts) { return this.write('PATCH', `tasks/${seg(taskId)}/move`, { listId, position }, opts); }
  /** DELETE /tasks/{id}. */
  deleteTask(taskId, opts) { return this.write('DELETE', `tasks/${seg(taskId)}`, undefined, opts); }
  /**
   * GET /boards/{boardId}/updates: short polling. {after, limit} gives
   * {data: events, seq, more}; {since} (a Date or RFC 3339) gives
   * {data: tasks, deleted, timestamp}. A resume point needing a reset is a
   * TaskboardError with isReset, reason and seq.
   */
  updates(boardId, { after, limit, since, ...opts } = {}) {
    const q = new URLSearchParams();
    if (after != null) q.set('after', String(after));
    if (limit != null) q.set('limit', String(limit));
    if (since != null) q.set('since', since instanceof Date ? since.toISOString().replace(/\.\d+Z$/, 'Z') : String(since));
    return this._get(`boards/${seg(boardId)}/updates${q.size ? `?${q}` : ''}`, opts);
  }
  /** GET /boards/{boardId}/poll: one long poll {after, timeout (s)}. */
  poll(boardId, { after, timeout, ...opts } = {}) {
    const q = new URLSearchParams();
    if (after != null) q.set('after', String(after));
    if (timeout != null) q.set('timeout', String(timeout));
    return this._get(`boards/${seg(boardId)}/poll${q.size ? `?${q}` : ''}`, { retries: 0, ...opts });
  }
  /** GET /poll?boards=: one long poll of many boards ({after: cursor, timeout}). */
  pollBoards(boards, { after, timeout, ...opts } = {}) {
    const ids = boards === '*' ? '*' : boards.map(seg).join(',');
    let q = `boards=${ids}`;
    if (after) q += `&after=${encodeURIComponent(typeof after === 'string' ? after : formatCursor(after))}`;
    if (timeout != null) q += `&timeout=${timeout}`;
    return this._get(`poll?${q}`, { retries: 0, ...opts });
  }
  /** POST /realtime/tickets: {ticket, expires_at}, single use, 60 s. */
  async createTicket(opts) {
    return (await this.request('POST', 'realtime/tickets', { body: {}, ...opts })).body;
  }
  /** GET /tokens: the caller's tokens. */
  async tokens(opts) { return (await this._get('tokens', opts)).data; }
  /** POST /tokens {name, scope?, expiresIn? (s)}: the answer's token is shown once. */
  async createToken(token, opts) { return (await this.request('POST', 'tokens', { body: token, ...opts })).body; }
  /** DELETE /tokens/{id}. */
  async revokeToken(tokenId, opts) { await this.request('DELETE', `tokens/${seg(tokenId)}`, opts); }
  /** GET /boards/{boardId}/webhooks. */
  async webhooks(boardId, opts) { return (await this._get(`boards/${seg(boardId)}/webhooks`, opts)).data; }
  /** POST /boards/{boardId}/webhooks {url, events?, description?}: secret shown once. */
  createWebhook(boardId, webhook, opts) { return this.write('POST', `boards/${seg(boardId)}/webhooks`, webhook, opts); }
  /** GET /webhooks/{id}. */
  webhook(id, opts) { return this._get(`webhooks/${seg(id)}`, opts); }
  /** PATCH /webhooks/{id} {url?, events?, description?, status?}. */
  updateWebhook(id, patch, opts) { return this.write('PATCH', `webhooks/${seg(id)}`, patch, opts); }
  /** DELETE /webhooks/{id}. */
  deleteWebhook(id, opts) { return this.write('DELETE', `webhooks/${seg(id)}`, undefined, opts); }
  /** POST /webhooks/{id}/replay: deliveries restart after seq after. */
  replayWebhook(id, after, opts) { return this.write('POST', `webhooks/${seg(id)}/replay`, { after }, opts); }
  /** GET /webhooks/{id}/deliveries?limit=: the latest attempts, newest first. */
  async webhookDeliveries(id, { limit, ...opts } = {}) {
    return (await this._get(`webhooks/${seg(id)}/deliveries${limit ? `?limit=${limit}` : ''}`, opts)).data;
  }
  /** GET /boards/{boardId}/export: the board as a taskboard/1 document. */
  exportBoard(boardId, opts) { return this._get(`boards/${seg(boardId)}/export`, opts); }
  /** POST /boards/import: a taskboard/1 or Trello document; resolves to the new board's snapshot. */
  importBoard(document, opts) {
    return this.write('POST', 'boards/import', typeof document === 'string' ? document : JSON.stringify(document), opts);
  }
  /** GET /admin/connections (needs the admin token: opts.token). */
  adminConnections(opts) { return this._get('admin/connections', opts); }
  /** GET /metrics (needs the admin token: opts.token): the Prometheus text. */
  async metrics(opts) { return (await this.request('GET', 'metrics', { raw: true, ...opts })).body; }
  /** POST /sessions {token}: the browser gets the session cookie; resolves to the user. */
  async signIn(token) {
    return (await this.request('POST', 'sessions', { body: { token }, auth: false })).body.user;
  }
  /** POST /sessions/demo {userId}: demo sign-in on a demo server. */
  async signInDemo(userId) {
    return (await this.request('POST', 'sessions/demo', { body: { userId }, auth: false })).body.user;
  }
  /** DELETE /sessions: ends the session of the cookie. */
  async signOut() { await this.request('DELETE', 'sessions', { body: {}, auth: false }); }

  /**
   * follow follows boards live on ONE connection. See Follower.
   * @param {string[]|'*'} boards
   * @param {FollowOptions} [options]
   * @returns {Follower}
   */
  follow(boards, options = {}) {
    const f = new Follower(this, boards, options);
    this._followers.add(f);
    f._start();
    return f;
  }

  /** close ends every follower; held writes are rejected. */
  close() {
    this._closed = true;
    for (const f of [...this._followers]) f.close();
    clearTimeout(this._retryTimer);
    if (this._onOnline) globalThis.removeEventListener('online', this._onOnline);
    const held = this._queue.splice(this._sending ? 1 : 0);
    for (const w of held) w.reject(new TaskboardError(0, 'Client closed'));
    this._status();
  }

  _followerState(live) {
    if (live) this._online = true; // the server answers
    // A follower going live again sends the held writes.
    if (!this._linkDown()) this.retryNow();
    this._status();
  }
}

/**
 * Follower follows boards on one connection: a WebSocket (one join per
 * board; for '*' one join of every board, with the composite cursor),
 * else one SSE stream (GET /events?boards=), else long polling
 * (GET /poll?boards=). With '*' every transport follows the boards the
 * user gets while following (following, onFollowing). options.transports
 * changes the order.
 *
 * Each board's last applied seq is kept; every transport resumes every
 * board right after it. Logged events reach onEvent once each, in seq
 * order per board, with own: true for the client's own writes. Resets:
 * history_truncated and ahead fetch the snapshot (GET /boards/{id}) and go
 * on from its seq (onReset gets it); access_revoked and board_deleted stop
 * following that board (onReset with stopped: true).
 */
export class Follower {
  constructor(client, boards, options) {
    this.client = client;
    this.all = boards === '*';
    this.o = options;
    this.transports = options.transports ?? ['ws', 'sse', 'poll'];
    /** @type {Map<string, {seq: number|null, resetting: boolean, buffer: object[]}>} */
    this.boards = new Map();
    if (!this.all) {
      if (!Array.isArray(boards) || boards.length === 0) throw new TypeError('follow: boards must be a non-empty array of ids or "*"');
      for (const id of boards) this._addBoard(id, null);
    }
    for (const [id, seq] of Object.entries(options.after ?? {})) {
      if (this.all || this.boards.has(id)) this._addBoard(id, seq);
    }
    // The board the user views, where they count as present; null:
    // nowhere. By default the board of a one-board list.
    this.presence = options.presence !== undefined ? options.presence
      : (!this.all && this.boards.size === 1 ? [...this.boards.keys()][0] : null);
    this._presenceMoved = false;
    this._opening = null; // a WebSocket joining its boards, not live yet
    this.closed = false;
    this.state = 'connecting';
    this.transport = '';
    this.conn = null;
    this.round = 0;
    this.attempt = 0;
    this.liveSince = 0;
    this.timer = null;
    this._down = false; // a live connection was lost and is not back
  }

  /** The last applied seq of each board: {boardId: seq}. */
  get seqs() {
    const out = {};
    for (const [id, b] of this.boards) if (b.seq != null) out[id] = b.seq;
    return out;
  }

  /** The ids of the boards followed. */
  get boardIds() { return [...this.boards.keys()]; }

  _addBoard(id, seq) {
    const b = this.boards.get(id);
    if (b) {
      if (seq != null) b.seq = seq;
      return b;
    }
    const nb = { seq: seq ?? null, resetting: false, buffer: [] };
    this.boards.set(id, nb);
    return nb;
  }

  _call(name, ...args) {
    try { this.o[name]?.(...args); } catch (err) { queueMicrotask(() => { throw err; }); }
  }

  _setState(state, extra = {}) {
    this.state = state;
    this.transport = state === 'live' ? (this.conn?.kind ?? '') : '';
    const wasDown = this._down;
    if (state === 'live') this._down = false;
    else if (state === 'reconnecting' || state === 'offline') this._down = true;
    else if (state === 'closed') this._down = false;
    this._call('onState', { state, transport: this.transport, ...extra });
    if (wasDown !== this._down || state === 'live') this.client._followerState(state === 'live');
  }

  async _start() {
    this._onOnline = () => { if (!this.closed && !this.conn) { clearTimeout(this.timer); this._connect(); } };
    this._onOffline = () => { if (!this.closed && !this.conn) this._setState('offline'); };
    if (typeof globalThis.addEventListener === 'function' && typeof globalThis.navigator?.onLine === 'boolean') {
      globalThis.addEventListener('online', this._onOnline);
      globalThis.addEventListener('offline', this._onOffline);
    }
    this._setState('connecting');
    if (this.o.snapshots) {
      try {
        if (this.all) for (const b of await this.client.boards()) this._addBoard(b.id, null);
        await Promise.all([...this.boards].filter(([, b]) => b.seq == null).map(([id]) => this._loadSnapshot(id)));
      } catch (err) {
        this._call('onError', err);
      }
    }
    if (!this.closed) this._connect();
  }

  async _loadSnapshot(boardId) {
    const b = this.boards.get(boardId);
    if (!b) return null;
    b.resetting = true;
    try {
      const snap = await this.client.snapshot(boardId);
      if (!this.boards.has(boardId) || this.closed) return null;
      b.seq = snap.seq;
      b.resetting = false;
      this._call('onSnapshot', boardId, snap);
      this._drainBuffer(boardId);
      return snap;
    } catch (err) {
      b.resetting = false;
      if (err instanceof TaskboardError && err.isNotFound) this._stopBoard(boardId, 'not_found', b.seq ?? 0);
      else throw err;
      return null;
    }
  }

  _drainBuffer(boardId) {
    const b = this.boards.get(boardId);
    if (!b) return;
    const buf = b.buffer;
    b.buffer = [];
    for (const ev of buf) this._logged(ev);
  }

  _stopBoard(boardId, reason, seq) {
    if (!this.boards.has(boardId)) return;
    this.boards.delete(boardId);
    this._call('onReset', { type: 'reset', boardId, reason, seq, stopped: true, snapshot: null });
  }

  /**
   * Typing indicators go over the WebSocket only: typing and stopTyping
   * report whether the message could be sent.
   */
  typing(boardId, taskId) { return this.conn?.send?.({ type: 'typing', boardId, taskId }) ?? false; }
  stopTyping(boardId, taskId) { return this.conn?.send?.({ type: 'stop_typing', boardId, taskId }) ?? false; }

  /**
   * add follows one more board, after seq after (default: from now), on
   * the same connection: a WebSocket joins it; an SSE stream or long poll
   * of a list reconnects with it, resuming the others exactly. With '*',
   * every transport finds new boards by itself.
   */
  add(boardId, after = null) {
    if (this.closed || this.boards.has(boardId)) return;
    this._addBoard(boardId, after);
    if (this.conn?.rejoin) this.conn.rejoin(boardId, after);
    else if (this.conn && !this.all) this.reconnect();
    else if (!this.conn && this.state === 'idle') this._connect();
  }

  /**
   * setPresence moves the user's presence to boardId (null: present
   * nowhere) without losing or repeating an event: a WebSocket joins the
   * board left and the board viewed again, with "presence" false and true,
   * each after its last applied seq; an SSE stream reconnects with the new
   * ?presence= and its cursor. Long polling has no presence.
   */
  setPresence(boardId) {
    const next = boardId ?? null;
    if (this.closed || next === this.presence) return;
    const prev = this.presence;
    this.presence = next;
    // A WebSocket still joining its boards counts too; an SSE stream still
    // opening is checked when it is up (_connect).
    const conn = this.conn ?? this._opening;
    if (conn?.rejoin) {
      for (const id of [prev, next]) {
        const b = id == null ? null : this.boards.get(id);
        if (!b || b.resetting) continue; // a resetting board joins after its snapshot
        if (b.seq == null) b.rejoin = true; // once joined says where it starts
        else conn.rejoin(id, b.seq);
      }
    } else if (conn?.kind === 'sse' && !this._presenceMoved) {
      // Several changes in a row reconnect once.
      this._presenceMoved = true;
      queueMicrotask(() => {
        this._presenceMoved = false;
        if (this.conn?.kind === 'sse' && this.conn.presence !== this._ssePresence()) this.reconnect();
      });
    }
  }

  /** remove stops following a board (no reset is reported). */
  remove(boardId) {
    if (!this.boards.delete(boardId)) return;
    this.conn?.send?.({ type: 'leave', boardId });
    if (this.conn && !this.conn.rejoin && !this.all) this.reconnect();
  }

  /** reconnect drops the connection and connects again at once. */
  reconnect() {
    if (this.closed) return;
    clearTimeout(this.timer);
    this.round++;
    this.conn?.close();
    this.conn = null;
    this.attempt = 0;
    this._connect();
  }

  /** close ends following for good. */
  close() {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    this.round++;
    this.conn?.close();
    this.conn = null;
    if (this._onOnline) {
      globalThis.removeEventListener?.('online', this._onOnline);
      globalThis.removeEventListener?.('offline', this._onOffline);
    }
    this.client._followers.delete(this);
    this._setState('closed');
  }

  // ---- events from any transport ----

  // _message handles one message of a transport.
  _message(msg, conn) {
    if (!msg || typeof msg !== 'object' || conn !== this.conn && conn.settled) return;
    switch (msg.type) {
      case 'reset': this._reset(msg, conn); return;
      case 'following':
        this._seen({ [msg.boardId]: msg.seq });
        return;
      case 'limit': this._call('onLimit', { boardId: msg.boardId }); return;
      case 'presence': this._call('onPresence', msg.boardId, msg.users ?? []); return;
      default:
    }
    if (typeof msg.seq === 'number' && msg.boardId) {
      this._logged(msg);
      return;
    }
    if (msg.boardId && !this.boards.has(msg.boardId)) return;
    msg.own = this.client.isOwn(msg.mutationId);
    this._call('onEvent', msg);
  }

  _logged(ev) {
    const b = this.boards.get(ev.boardId);
    if (!b) return;
    if (b.resetting) {
      b.buffer.push(ev);
      return;
    }
    if (b.seq != null && ev.seq <= b.seq) return; // seen
    if (b.seq != null && ev.seq > b.seq + 1) {
      // A gap cannot come from the server; refetch rather than skip.
      this._reset({ type: 'reset', boardId: ev.boardId, seq: ev.seq - 1, reason: 'gap' }, this.conn);
      b.buffer.push(ev);
      return;
    }
    b.seq = ev.seq;
    ev.own = this.client.isOwn(ev.mutationId);
    this._call('onEvent', ev);
    if (ev.type === 'board_deleted') this._stopBoard(ev.boardId, 'board_deleted', ev.seq);
  }

  // _discover starts following a board found by a '*' stream at seq.
  _discover(boardId, seq) {
    this._addBoard(boardId, this.o.snapshots ? null : seq);
    this._call('onFollowing', { boardId, seq });
    if (!this.o.snapshots) return null;
    return this._loadSnapshot(boardId).catch((err) => this._call('onError', err));
  }

  async _reset(msg, conn) {
    const { boardId, reason } = msg;
    const b = this.boards.get(boardId);
    if (!b) return;
    if (STOPPING.has(reason)) {
      this._stopBoard(boardId, reason, msg.seq);
      return;
    }
    if (b.resetting) return;
    b.resetting = true;
    b.buffer = [];
    b.seq = msg.seq; // where the stream goes on, until the snapshot says more
    let snap = null;
    for (let attempt = 0; !this.closed && this.boards.has(boardId); attempt++) {
      try {
        snap = await this.client.snapshot(boardId);
        break;
      } catch (err) {
        if (err instanceof TaskboardError && err.isNotFound) {
          b.resetting = false;
          this._stopBoard(boardId, 'access_revoked', msg.seq);
          return;
        }
        this._call('onError', err);
        await sleep(backoff(attempt, this.client.minDelay, this.client.maxDelay));
      }
    }
    if (!snap || this.closed || this.boards.get(boardId) !== b) return;
    b.seq = snap.seq;
    b.resetting = false;
    this._call('onReset', { type: 'reset', boardId, reason, seq: msg.seq, stopped: false, snapshot: snap });
    this._drainBuffer(boardId);
    // A WebSocket left the board with the reset: join again after the
    // snapshot, on the connection that sent it or the one open now.
    for (const c of new Set([conn, this.conn])) c?.rejoin?.(boardId, b.seq);
  }

  // ---- connecting ----

  async _connect() {
    const round = ++this.round;
    this._setState('connecting');
    if (this.boards.size === 0 && !this.all) {
      this._setState('idle');
      return;
    }
    for (const kind of this.transports) {
      if (this.closed || round !== this.round) return;
      let conn = null;
      try {
        conn = await this._open(kind, round);
      } catch (err) {
        if (this._opening?.round === round) this._opening = null;
        if (err instanceof TaskboardError && err.isUnauthorized) {
          this._call('onError', err);
          this.close();
          return;
        }
        if (!(err instanceof TaskboardError && err.isNetwork)) this._call('onError', err);
      }
      if (this._opening?.round === round) this._opening = null;
      if (this.closed || round !== this.round) {
        conn?.close();
        return;
      }
      if (conn) {
        this.conn = conn;
        conn.settled = true;
        this.liveSince = Date.now();
        this._setState('live');
        if (kind === 'sse' && conn.presence !== this._ssePresence()) {
          // The presence moved while the stream was opening.
          queueMicrotask(() => { if (this.conn === conn) this.reconnect(); });
        }
        if (kind !== 'ws' && this.o.onPresence && this.o.fetchPresence !== false) this._fetchPresence();
        return;
      }
    }
    this._scheduleRetry();
  }

  // _lost is called by a connection that ended on its own.
  _lost(conn) {
    if (this.conn !== conn || this.closed) return;
    this.conn = null;
    this.round++;
    if (Date.now() - this.liveSince > STABLE_AFTER) this.attempt = 0;
    this._scheduleRetry();
  }

  _scheduleRetry() {
    if (this.closed) return;
    if (globalThis.navigator?.onLine === false) {
      this._setState('offline');
      return; // the online event retries
    }
    const delay = backoff(this.attempt++, this.client.minDelay, this.client.maxDelay);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this._connect(), delay);
    this._setState('reconnecting', { retryAt: Date.now() + delay, delay });
  }

  _open(kind, round) {
    if (kind === 'ws') return this._openWS(round);
    if (kind === 'sse') return this._openSSE(round);
    if (kind === 'poll') return this._openPoll(round);
    return null;
  }

  async _fetchPresence() {
    for (const id of this.boards.keys()) {
      try {
        this._call('onPresence', id, await this.client.presence(id, { retries: 0 }));
      } catch { /* presence is best effort */ }
    }
  }

  _boardsParam() {
    return this.all ? '*' : [...this.boards.keys()].map(seg).join(',');
  }

  // _ssePresence is the ?presence= of an SSE stream: the viewed board when
  // the stream follows it (with '*' the server knows), else ''.
  _ssePresence() {
    const p = this.presence;
    return p != null && (this.all || this.boards.has(p)) ? p : '';
  }

  _cursor() {
    return formatCursor(this.seqs);
  }

  // _seen applies a connected frame's or a poll cursor's seqs: boards not
  // known yet are discovered ('*'), unknown seqs are set.
  _seen(seqs) {
    for (const [id, seq] of Object.entries(seqs ?? {})) {
      const b = this.boards.get(id);
      if (!b) {
        if (this.all) this._discover(id, seq);
      } else if (b.seq == null && !b.resetting) {
        b.seq = seq;
      }
    }
  }

  async _openWS(round) {
    const WS = this.client._WebSocket;
    if (typeof WS !== 'function') return null;
    const url = this.client.url('ws');
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    if (this.client.token) {
      const t = await this.client.createTicket({ retries: 0 });
      url.searchParams.set('ticket', t.ticket);
    }
    if (round !== this.round || this.closed) return null;
    return new Promise((resolve) => {
      let ws;
      try { ws = new WS(url.href); } catch { resolve(null); return; }
      let settled = false;
      let closed = false;
      let lastHeard = Date.now();
      let pinger = null;
      const waiting = new Set(); // boards whose join is not answered yet
      const send = (msg) => {
        if (closed || ws.readyState !== 1) return false;
        ws.send(JSON.stringify(msg));
        return true;
      };
      const join = (boardId, after) => {
        const msg = { type: 'join', boardId };
        if (after != null) msg.after = after;
        if (boardId !== this.presence) msg.presence = false; // following, not viewing
        send(msg);
      };
      const conn = {
        kind: 'ws',
        round,
        settled: false,
        send,
        close: () => {
          closed = true;
          clearInterval(pinger);
          try { ws.close(1000); } catch { /* closed */ }
        },
        rejoin: (boardId, after) => join(boardId, after),
      };
      this._opening = conn;
      const settle = (value) => {
        if (settled) return;
        settled = true;
        clearTimeout(timeout);
        if (!value) conn.close();
        resolve(value);
      };
      const timeout = setTimeout(() => settle(null), OPEN_TIMEOUT);
      const checkJoined = () => {
        if (!settled && waiting.size === 0) {
          pinger = setInterval(() => {
            if (Date.now() - lastHeard > SILENCE_LIMIT) ws.close();
            else send({ type: 'ping' });
          }, PING_EVERY);
          settle(conn);
        }
      };
      ws.addEventListener('open', () => {
        if (this.all) {
          // One join of every board, each after its last applied seq (the
          // others from now); the server joins the boards the user gets
          // later and says following. The boards of the cursor are waited
          // for; the others come with joined.
          const msg = { type: 'join', boardId: '*' };
          const cursor = this._cursor();
          if (cursor) msg.after = cursor;
          if (this.presence != null) msg.presence = this.presence;
          for (const [id, b] of this.boards) if (b.seq != null && !b.resetting) waiting.add(id);
          send(msg);
          checkJoined();
          return;
        }
        for (const [id, b] of this.boards) {
          if (b.resetting) continue; // joins when its snapshot is in
          waiting.add(id);
          join(id, b.seq);
        }
        checkJoined();
      });
      ws.addEventListener('message', (e) => {
        lastHeard = Date.now();
        let msg;
        try { msg = JSON.parse(e.data); } catch { return; }
        if (closed) return;
        switch (msg.type) {
          case 'joined': {
            if (this.all && !this.boards.has(msg.boardId)) this._discover(msg.boardId, msg.seq);
            const b = this.boards.get(msg.boardId);
            if (b && b.seq == null && !b.resetting) b.seq = msg.seq;
            if (b?.rejoin && b.seq != null) {
              b.rejoin = false;
              join(msg.boardId, b.seq); // its presence moved meanwhile
            }
            waiting.delete(msg.boardId);
            checkJoined();
            return;
          }
          case 'pong': return;
          case 'error':
            if (msg.boardId === '*') {
              this._call('onError', new TaskboardError(0, msg.error, { body: msg }));
              settle(null);
            } else if (msg.boardId && msg.error === 'Board not found') {
              waiting.delete(msg.boardId);
              this._stopBoard(msg.boardId, 'not_found', this.boards.get(msg.boardId)?.seq ?? 0);
              checkJoined();
            } else {
              this._call('onError', new TaskboardError(0, msg.error, { body: msg }));
            }
            return;
          default:
            if (!settled && msg.type === 'reset') waiting.delete(msg.boardId);
            this._message(msg, conn);
            if (!settled) checkJoined();
        }
      });
      ws.addEventListener('close', (e) => {
        clearInterval(pinger);
        const mine = !closed;
        closed = true;
        if (e.code === 4001) {
          this.client._events.emit('unauthorized', {});
          this._call('onError', new TaskboardError(401, 'Unauthorized'));
          settle(null);
          if (settled && mine) this.close();
          return;
        }
        if (!settled) { settle(null); return; }
        if (mine) this._lost(conn);
      });
      ws.addEventListener('error', () => { /* a close follows */ });
    });
  }

  async _openSSE(round) {
    const ctl = new AbortController();
    let q = `events?boards=${this._boardsParam()}`;
    const cursor = this._cursor();
    if (cursor) q += `&after=${encodeURIComponent(cursor)}`;
    const presence = this._ssePresence();
    if (presence) q += `&presence=${seg(presence)}`;
    let res;
    const timeout = setTimeout(() => ctl.abort(), OPEN_TIMEOUT);
    try {
      res = await this.client._fetch(this.client.url(q), {
        headers: this.client._headers({ Accept: 'text/event-stream' }),
        credentials: this.client.credentials,
        cache: 'no-store',
        signal: ctl.signal,
      });
    } catch (err) {
      clearTimeout(timeout);
      throw new TaskboardError(0, "Can't reach the server", { cause: err });
    }
    if (!res.ok) {
      clearTimeout(timeout);
      if (res.status === 401) this.client._events.emit('unauthorized', {});
      const text = await res.text().catch(() => '');
      let body = null;
      try { body = JSON.parse(text); } catch { /* not JSON */ }
      throw errorOf(res.status, res.statusText, body, res.headers);
    }
    if (round !== this.round || this.closed || !res.body) {
      clearTimeout(timeout);
      ctl.abort();
      return null;
    }
    let closed = false;
    const conn = { kind: 'sse', settled: false, presence, close: () => { closed = true; ctl.abort(); } };
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let lastHeard = Date.now();
    const watchdog = setInterval(() => { if (Date.now() - lastHeard > SILENCE_LIMIT) ctl.abort(); }, 5000);
    return new Promise((resolve) => {
      let settled = false;
      const settle = (v) => {
        if (settled) return;
        settled = true;
        clearTimeout(timeout);
        resolve(v);
      };
      let buf = '';
      let ev = { data: [], event: '', id: null };
      const dispatch = () => {
        if (ev.data.length === 0) { ev = { data: [], event: '', id: null }; return; }
        let msg;
        try { msg = JSON.parse(ev.data.join('\n')); } catch { msg = null; }
        ev = { data: [], event: '', id: null };
        if (!msg || closed) return;
        if (msg.type === 'connected') {
          this._seen(msg.seqs);
          settle(conn);
          return;
        }
        this._message(msg, conn);
      };
      const line = (l) => {
        if (l === '') { dispatch(); return; }
        if (l.startsWith(':')) return;
        const i = l.indexOf(':');
        const field = i < 0 ? l : l.slice(0, i);
        let value = i < 0 ? '' : l.slice(i + 1);
        if (value.startsWith(' ')) value = value.slice(1);
        if (field === 'data') ev.data.push(value);
        else if (field === 'event') ev.event = value;
        else if (field === 'id') ev.id = value;
      };
      (async () => {
        try {
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            lastHeard = Date.now();
            buf += decoder.decode(value, { stream: true });
            let nl;
            while ((nl = buf.search(/\r\n|\r|\n/)) >= 0) {
              const l = buf.slice(0, nl);
              buf = buf.slice(nl + (buf[nl] === '\r' && buf[nl + 1] === '\n' ? 2 : 1));
              line(l);
            }
          }
        } catch { /* aborted or broken */ }
        clearInterval(watchdog);
        const mine = !closed;
        closed = true;
        if (!settled) { settle(null); return; }
        if (mine) this._lost(conn);
      })();
    });
  }

  async _openPoll(round) {
    const ctl = new AbortController();
    // A short first poll checks access and learns the seqs of new boards.
    const first = await this.client.pollBoards(this.all ? '*' : [...this.boards.keys()],
      { after: this._cursor(), timeout: 1, signal: ctl.signal });
    if (round !== this.round || this.closed) return null;
    let closed = false;
    const conn = { kind: 'poll', settled: false, close: () => { closed = true; ctl.abort(); } };
    const apply = (body) => {
      for (const ev of body?.data ?? []) this._message(ev, conn);
      if (body?.cursor != null) this._seen(parseCursor(body.cursor));
    };
    apply(first);
    (async () => {
      let presenceAt = Date.now();
      while (!closed) {
        try {
          const boards = this.all ? '*' : [...this.boards.keys()];
          if (boards.length === 0) { await sleep(1000, ctl.signal); continue; }
          const body = await this.client.pollBoards(boards, { after: this._cursor(), timeout: this.o.pollTimeout ?? POLL_TIMEOUT, signal: ctl.signal });
          if (closed) return;
          apply(body);
          if (this.o.onPresence && this.o.fetchPresence !== false && Date.now() - presenceAt > PRESENCE_EVERY) {
            presenceAt = Date.now();
            this._fetchPresence();
          }
        } catch (err) {
          if (closed) return;
          if (err instanceof TaskboardError && err.isUnauthorized) {
            this._call('onError', err);
            this.close();
            return;
          }
          if (err instanceof TaskboardError && err.isRateLimited) {
            await sleep((err.retryAfter ?? 5) * 1000, ctl.signal).catch(() => {});
            continue;
          }
          if (!(err instanceof TaskboardError && err.isNetwork)) this._call('onError', err);
          closed = true;
          this._lost(conn);
          return;
        }
      }
    })();
    return conn;
  }
}

export default TaskboardClient;
