// The live connection to one board. It tries a WebSocket first; when that
// cannot open (a proxy that blocks upgrades, say) it falls back to
// Server-Sent Events, and when those cannot open either, to long polling.
// Every connection resumes after the last seq the page applied, so nothing
// is lost or repeated. A connection that drops is retried with exponential
// backoff and jitter, from 1 s up to 30 s.

import { ApiError, apiURL, request, sleep, wsURL } from './api.js';

const MIN_DELAY = 1000;
const MAX_DELAY = 30000;
const OPEN_TIMEOUT = 8000; // an attempt that has not opened by then failed
const PING_EVERY = 20000; // WebSocket keepalive
const SILENCE_LIMIT = 45000; // a WebSocket silent for this long is dead
const POLL_TIMEOUT = 25; // seconds a long poll is held
const POLL_PRESENCE_EVERY = 10000;
const STABLE_AFTER = 10000; // a connection up this long resets the backoff

/** TRANSPORT_NAMES are the human names of the transports. */
export const TRANSPORT_NAMES = { ws: 'WebSocket', sse: 'SSE', poll: 'Long polling' };

// Named SSE events the page listens to: the logged and ephemeral types.
const SSE_TYPES = [
  'task_created', 'task_updated', 'task_moved', 'task_deleted',
  'list_created', 'list_updated', 'list_moved', 'list_deleted',
  'board_updated', 'board_deleted', 'member_added', 'member_updated', 'member_removed',
  'user_joined', 'user_left', 'user_typing', 'user_stopped_typing',
];

/** backoff returns the delay before retry attempt n (0-based), with jitter. */
export function backoff(n) {
  const ceiling = Math.min(MAX_DELAY, MIN_DELAY * 2 ** n);
  return Math.max(MIN_DELAY, Math.round(ceiling / 2 + Math.random() * ceiling / 2));
}

/**
 * Live follows a board. Its handlers:
 *   seq() → the last seq applied (resume point)
 *   event(ev) → a logged or ephemeral event
 *   presence(users) → the full list of users present
 *   reset(info) → the resume point needs a snapshot; call restart() after
 *   gone(message) → the board does not exist or is no longer visible
 *   unauthorized() → the session ended
 *   state({status, transport, retryAt}) → for the indicator; status is
 *     "connecting", "live", "reconnecting", "offline" or "stopped"
 */
export class Live {
  constructor(boardId, handlers) {
    this.boardId = boardId;
    this.h = handlers;
    this.stopped = true;
    this.attempt = 0;
    this.conn = null; // {kind, close(), send?()}
    this.timer = null;
    this.round = 0;
    this.liveSince = 0;
    this.onOnline = () => { if (!this.stopped) this.retryNow(); };
    this.onOffline = () => { if (!this.stopped && !this.conn) this.setState('offline'); };
  }

  /** start connects. */
  start() {
    this.stopped = false;
    window.addEventListener('online', this.onOnline);
    window.addEventListener('offline', this.onOffline);
    this.connect();
  }

  /** stop closes the connection for good. */
  stop() {
    this.stopped = true;
    window.removeEventListener('online', this.onOnline);
    window.removeEventListener('offline', this.onOffline);
    clearTimeout(this.timer);
    this.round++;
    this.conn?.close();
    this.conn = null;
    this.setState('stopped');
  }

  /** restart reconnects at once from the current seq (after a snapshot). */
  restart() {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.round++;
    this.conn?.close();
    this.conn = null;
    this.attempt = 0;
    this.connect();
  }

  /** retryNow skips the wait before the next attempt. */
  retryNow() {
    if (this.stopped || this.conn) return;
    clearTimeout(this.timer);
    this.connect();
  }

  /** transport is the open connection's kind, or "". */
  get transport() {
    return this.conn?.kind ?? '';
  }

  /** send sends a message over the WebSocket; it reports whether it could. */
  send(msg) {
    return this.conn?.send?.(msg) ?? false;
  }

  setState(status, extra = {}) {
    this.h.state?.({ status, transport: this.conn?.kind ?? '', ...extra });
  }

  // connect runs one round: WebSocket, else SSE, else long polling.
  async connect() {
    const round = ++this.round;
    this.setState('connecting');
    for (const kind of ['ws', 'sse', 'poll']) {
      if (this.stopped || round !== this.round) return;
      const conn = await this.open(kind, round);
      if (this.stopped || round !== this.round) {
        conn?.close();
        return;
      }
      if (conn) {
        this.conn = conn;
        this.liveSince = Date.now();
        this.setState('live');
        return;
      }
    }
    this.scheduleRetry();
  }

  // lost is called when an open connection ends.
  lost(conn) {
    if (this.conn !== conn || this.stopped) return;
    this.conn = null;
    this.round++;
    // A connection that held for a while starts the backoff afresh; one
    // that drops at once keeps growing it.
    if (Date.now() - this.liveSince > STABLE_AFTER) this.attempt = 0;
    this.scheduleRetry();
  }

  scheduleRetry() {
    if (this.stopped) return;
    if (navigator.onLine === false) {
      this.setState('offline');
      return; // the online event retries
    }
    const delay = backoff(this.attempt++);
    const retryAt = Date.now() + delay;
    this.setState('reconnecting', { retryAt });
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connect(), delay);
  }

  // open tries one transport and resolves to the open connection or null.
  open(kind, round) {
    if (kind === 'ws') return this.openWebSocket();
    if (kind === 'sse') return this.openEventSource();
    return this.openPoll(round);
  }

  // A board message from any transport: resets and errors are handled here,
  // everything else goes to the page.
  dispatch(msg, conn) {
    if (!msg || typeof msg !== 'object') return;
    if (msg.type === 'reset') {
      conn.close();
      if (this.conn === conn) this.conn = null;
      this.setState('connecting');
      this.h.reset?.(msg);
      return;
    }
    this.h.event?.(msg);
  }

  openWebSocket() {
    return new Promise((resolve) => {
      let ws;
      try {
        ws = new WebSocket(wsURL('/ws'));
      } catch {
        resolve(null);
        return;
      }
      let settled = false; // the promise is resolved
      let closed = false; // the page is done with this socket
      let lastHeard = Date.now();
      let pinger = null;
      const conn = {
        kind: 'ws',
        close: () => {
          closed = true;
          clearInterval(pinger);
          ws.close(1000);
        },
        send: (msg) => {
          if (closed || ws.readyState !== WebSocket.OPEN) return false;
          ws.send(JSON.stringify(msg));
          return true;
        },
      };
      const settle = (value) => {
        if (settled) return;
        settled = true;
        clearTimeout(timeout);
        if (!value) {
          closed = true;
          clearInterval(pinger);
          try { ws.close(); } catch { /* already closed */ }
        }
        resolve(value);
      };
      const timeout = setTimeout(() => settle(null), OPEN_TIMEOUT);
      ws.addEventListener('open', () => {
        ws.send(JSON.stringify({ type: 'join', boardId: this.boardId, after: this.h.seq() }));
      });
      ws.addEventListener('message', (e) => {
        lastHeard = Date.now();
        let msg;
        try { msg = JSON.parse(e.data); } catch { return; }
        if (closed) return;
        switch (msg.type) {
          case 'joined':
            if (!settled && msg.boardId === this.boardId) {
              pinger = setInterval(() => {
                if (Date.now() - lastHeard > SILENCE_LIMIT) ws.close();
                else conn.send({ type: 'ping' });
              }, PING_EVERY);
              settle(conn);
            }
            return;
          case 'presence':
            if (msg.boardId === this.boardId) this.h.presence?.(msg.users ?? []);
            return;
          case 'pong':
            return;
          case 'error':
            if (msg.boardId === this.boardId) {
              closed = true;
              ws.close(1000);
              this.h.gone?.(msg.error);
              settle(null);
            }
            // Other errors (Unauthorized) come with a close code.
            return;
          default:
            if (msg.boardId && msg.boardId !== this.boardId) return;
            this.dispatch(msg, conn);
        }
      });
      ws.addEventListener('close', (e) => {
        clearInterval(pinger);
        const mine = !closed;
        closed = true;
        if (e.code === 4001) {
          this.h.unauthorized?.();
          settle(null);
          return;
        }
        if (!settled) {
          settle(null);
          return;
        }
        if (mine) this.lost(conn);
      });
    });
  }

  openEventSource() {
    return new Promise((resolve) => {
      if (typeof EventSource === 'undefined') {
        resolve(null);
        return;
      }
      const es = new EventSource(apiURL(`/boards/${encodeURIComponent(this.boardId)}/events?after=${this.h.seq()}`));
      let opened = false;
      let settled = false;
      let closed = false;
      const conn = {
        kind: 'sse',
        close: () => {
          closed = true;
          es.close();
        },
      };
      const timeout = setTimeout(() => {
        if (!settled) {
          settled = true;
          es.close();
          resolve(null);
        }
      }, OPEN_TIMEOUT);
      es.onmessage = (e) => {
        let msg;
        try { msg = JSON.parse(e.data); } catch { return; }
        if (msg.type === 'connected' && !opened) {
          opened = true;
          settled = true;
          clearTimeout(timeout);
          resolve(conn);
          this.fetchPresence();
        }
      };
      for (const type of SSE_TYPES) {
        es.addEventListener(type, (e) => {
          if (closed) return;
          try { this.dispatch(JSON.parse(e.data), conn); } catch { /* not JSON */ }
        });
      }
      es.addEventListener('reset', (e) => {
        if (closed) return;
        try { this.dispatch(JSON.parse(e.data), conn); } catch { /* not JSON */ }
      });
      es.onerror = () => {
        // EventSource would retry on its own; the page retries itself so
        // that the indicator and the backoff tell the truth.
        es.close();
        if (!settled) {
          settled = true;
          clearTimeout(timeout);
          resolve(null);
          return;
        }
        if (!closed) {
          closed = true;
          this.lost(conn);
        }
      };
    });
  }

  async fetchPresence() {
    try {
      const body = (await request('GET', `/boards/${encodeURIComponent(this.boardId)}/presence`, { retry: false })).body;
      this.h.presence?.(body?.data ?? []);
    } catch { /* presence is best effort */ }
  }

  async openPoll(round) {
    const ctl = new AbortController();
    const base = `/boards/${encodeURIComponent(this.boardId)}`;
    // The presence route doubles as the probe that the board is reachable.
    try {
      const body = (await request('GET', `${base}/presence`, { retry: false, signal: ctl.signal })).body;
      this.h.presence?.(body?.data ?? []);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) this.h.gone?.(err.message);
      return null;
    }
    if (round !== this.round || this.stopped) return null;
    let closed = false;
    const conn = { kind: 'poll', close: () => { closed = true; ctl.abort(); } };
    (async () => {
      let presenceAt = Date.now();
      while (!closed) {
        try {
          const res = await request('GET', `${base}/poll?after=${this.h.seq()}&timeout=${POLL_TIMEOUT}`,
            { retry: false, signal: ctl.signal });
          if (closed) return;
          for (const ev of res.body?.data ?? []) this.dispatch(ev, conn);
          if (closed) return;
          if (Date.now() - presenceAt > POLL_PRESENCE_EVERY) {
            presenceAt = Date.now();
            this.fetchPresence();
          }
        } catch (err) {
          if (closed) return;
          if (err instanceof ApiError && err.status === 410) {
            this.dispatch({ type: 'reset', ...(err.body ?? {}) }, conn);
            return;
          }
          if (err instanceof ApiError && err.status === 404) {
            closed = true;
            this.h.gone?.(err.message);
            return;
          }
          if (err instanceof ApiError && err.status === 401) {
            closed = true;
            return; // request() already reported it
          }
          if (err instanceof ApiError && err.status === 429) {
            await sleep(5000).catch(() => {});
            continue;
          }
          closed = true;
          this.lost(conn);
          return;
        }
      }
    })();
    return conn;
  }
}
