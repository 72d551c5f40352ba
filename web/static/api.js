// The HTTP API, as the page uses it: the taskboard JavaScript client
// (client/v1/taskboard.js, served beside the page), authenticated by the
// session cookie. Writes carry an Idempotency-Key, go out in order, and are
// held while the server is out of reach; the server puts the key on the
// write's event as mutationId.
//
// The API lives beside the page, under the same base: at the site root the
// base is "/", and under a prefix it is, say, "/board/", where the page
// asks /board/boards and /board/ws. The modules are served from the
// base's static/ directory, so the base is the parent of this module's own
// URL; it does not depend on the page's address or a <base> element.

import { TaskboardClient, TaskboardError, newKey } from '../client/v1/taskboard.js';

const BASE = new URL('../', import.meta.url);

/** client is the page's one client of the API. */
export const client = new TaskboardClient({ baseURL: BASE });

/** ApiError is a failed request: status 0 means the server was not reached. */
export const ApiError = TaskboardError;

export { newKey };

/**
 * apiURL returns the URL of an API path ("/boards", "/boards/ID/events?after=3")
 * under the page's base: the path is taken relative to the base, so that
 * "/boards" is /boards at the root and /board/boards under /board/.
 */
export function apiURL(path) {
  return client.url(path);
}

/** onUnauthorized sets what happens when the session is gone (a 401). */
export function onUnauthorized(fn) {
  client.on('unauthorized', fn);
}

/**
 * request sends one API request and resolves to {status, body, etag}.
 * Writes with a key go through the client's queue: in order, retried with
 * the same key, held while offline. Failures reject with an ApiError; a
 * 401 also calls the onUnauthorized handler, except for the sign-in
 * requests themselves (signIn: true).
 */
export async function request(method, path, { body, key, signal, retry = true, headers = {}, signIn = false } = {}) {
  if (key && method !== 'GET') {
    const data = await client.write(method, path, body, { key, headers });
    return { status: 200, body: data, etag: null };
  }
  return client.request(method, path, { body, headers, signal, retries: retry ? 2 : 0, auth: !signIn });
}

/** get resolves to the JSON body of a GET. */
export async function get(path, opts) {
  return (await request('GET', path, opts)).body;
}
