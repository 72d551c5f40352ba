// Shared helpers of the node tests. The Go test TestNodeClient starts a real
// server and passes its address and tokens in the environment.
import { TaskboardClient } from '../taskboard.js';

export const env = {
  url: process.env.TASKBOARD_URL,
  control: process.env.TASKBOARD_CONTROL,
  admin: process.env.TASKBOARD_ADMIN,
  alice: process.env.TASKBOARD_ALICE,
  bob: process.env.TASKBOARD_BOB,
  carol: process.env.TASKBOARD_CAROL,
  carolId: process.env.TASKBOARD_CAROL_ID,
};

/** skip is set (to a reason) when the tests run without a server. */
export const skip = env.url ? false : 'no server: run through go test ./jsclient with TASKBOARD_TEST_NODE set';

/** hasWebSocket says whether this node has a WebSocket global. */
export const hasWebSocket = typeof globalThis.WebSocket === 'function';

/** client returns a client of the test server with a short backoff. */
export function client(token, opts = {}) {
  return new TaskboardClient({ baseURL: env.url, token, minDelay: 50, maxDelay: 1000, ...opts });
}

/**
 * waitFor resolves when cond() is true (checked on a short interval),
 * and rejects with what when it is not within ms.
 */
export async function waitFor(cond, what, ms = 20000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** control asks the test server's control route: restart, stop, start, trim. */
export async function control(action) {
  const res = await fetch(new URL(action, env.control), { method: 'POST' });
  if (!res.ok) throw new Error(`control ${action}: ${res.status} ${await res.text()}`);
}

let n = 0;
/** unique returns a name no other test uses. */
export function unique(prefix) {
  return `${prefix}-${process.pid}-${++n}`;
}

/** board creates a board with one list and returns {board, list}. */
export async function board(c, name = unique('board')) {
  const b = await c.createBoard(name);
  const list = await c.createList(b.id, 'To do');
  return { board: b, list };
}

/**
 * recorder returns follow handlers that record every event per board, and
 * the record: events[boardId] = seqs of logged events, all = every event,
 * resets, states, errors.
 */
export function recorder() {
  const rec = { seqs: {}, all: [], resets: [], states: [], errors: [], following: [], snapshots: {} };
  rec.handlers = {
    onEvent(ev) {
      rec.all.push(ev);
      if (typeof ev.seq === 'number') (rec.seqs[ev.boardId] ??= []).push(ev.seq);
    },
    onReset(r) { rec.resets.push(r); },
    onState(s) { rec.states.push(s); },
    onError(e) { rec.errors.push(e); },
    onFollowing(f) { rec.following.push(f); },
    onSnapshot(id, snap) { rec.snapshots[id] = snap; },
  };
  rec.live = (transport) => rec.states.length > 0 && rec.states.at(-1).state === 'live' &&
    (!transport || rec.states.at(-1).transport === transport);
  return rec;
}

/** range returns [from, from+1, ..., to]. */
export function range(from, to) {
  const out = [];
  for (let i = from; i <= to; i++) out.push(i);
  return out;
}
