// The HTTP API, as the page uses it: JSON over fetch on the page's own
// origin, authenticated by the session cookie. Writes carry an
// Idempotency-Key so that a retry after a network error can never apply
// twice; the server puts the key on the write's event as mutationId.
//
// The API lives beside the page, under the same base: at the site root the
// base is "/", and under a prefix it is, say, "/board/", where the page
// asks /board/boards and /board/ws. The modules are served from the
// base's static/ directory, so the base is the parent of this module's own
// URL; it does not depend on the page's address or a <base> element.

import { errorMessage } from './ui.js';

const BASE = new URL('../', import.meta.url);

/**
 * apiURL returns the URL of an API path ("/boards", "/boards/ID/events?after=3")
 * under the page's base: the path is taken relative to the base, so that
 * "/boards" is /boards at the root and /board/boards under /board/.
 */
export function apiURL(path) {
  return new URL(path.replace(/^\/+/, ''), BASE);
}

/** wsURL returns the WebSocket (ws: or wss:) URL of an API path. */
export function wsURL(path) {
  const url = apiURL(path);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url;
}

/** ApiError is a failed request: status 0 means the server was not reached. */
export class ApiError extends Error {
  constructor(status, message, body = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.body = body;
  }
}

/** newKey returns a fresh idempotency key. */
export function newKey() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID();
  // randomUUID needs a secure context; getRandomValues does not.
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

let unauthorized = () => {};

/** onUnauthorized sets what happens when the session is gone (a 401). */
export function onUnauthorized(fn) {
  unauthorized = fn;
}

// Delays between retries of a request that did not reach the server or got
// a transient answer (429, 5xx, or 409 while the same key is in flight).
const RETRY_DELAYS = [500, 1000, 2000, 4000, 8000, 15000];

/** sleep resolves after ms, or rejects when signal aborts. */
export function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      reject(signal.reason);
    }, { once: true });
  });
}

/**
 * request sends one API request and resolves to {status, body, etag};
 * path is an API path, resolved with apiURL. GETs and writes with an
 * idempotency key are retried on network errors and transient answers,
 * with the same key; other failures reject with an ApiError. A 401 also
 * calls the onUnauthorized handler, except for the sign-in requests
 * themselves (signIn: true).
 */
export async function request(method, path, { body, key, signal, retry = true, headers = {}, signIn = false } = {}) {
  const hdrs = { Accept: 'application/json', ...headers };
  if (body !== undefined) hdrs['Content-Type'] = 'application/json';
  if (key) hdrs['Idempotency-Key'] = key;
  const retriable = retry && (method === 'GET' || Boolean(key));
  for (let attempt = 0; ; attempt++) {
    let res;
    try {
      res = await fetch(apiURL(path), {
        method,
        headers: hdrs,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: 'same-origin',
        cache: 'no-store',
        signal,
      });
    } catch (err) {
      if (signal?.aborted) throw err;
      if (!retriable || attempt >= RETRY_DELAYS.length) {
        throw new ApiError(0, "Can't reach the server. Check your connection.");
      }
      await sleep(RETRY_DELAYS[attempt], signal);
      continue;
    }
    const transient = res.status === 429 || res.status >= 500 || (res.status === 409 && key && method !== 'GET');
    if (transient && retriable && attempt < RETRY_DELAYS.length) {
      const after = Number(res.headers.get('Retry-After'));
      const wait = Number.isFinite(after) && after > 0 ? Math.min(after * 1000, 30000) : RETRY_DELAYS[attempt];
      // 409 is retried only while the first request with this key runs.
      const data = res.status === 409 ? await res.clone().json().catch(() => null) : null;
      if (res.status !== 409 || /in progress/i.test(errorMessage(data, ''))) {
        await sleep(wait, signal);
        continue;
      }
    }
    let data = null;
    if (res.status !== 204 && res.status !== 304) {
      data = await res.json().catch(() => null);
    }
    if (res.status === 401 && !signIn) {
      unauthorized();
      throw new ApiError(401, 'Please sign in again.', data);
    }
    if (!res.ok && res.status !== 304) {
      throw new ApiError(res.status, errorMessage(data, `${res.status} ${res.statusText}`), data);
    }
    return { status: res.status, body: data, etag: res.headers.get('ETag') };
  }
}

/** get resolves to the JSON body of a GET. */
export async function get(path, opts) {
  return (await request('GET', path, opts)).body;
}
