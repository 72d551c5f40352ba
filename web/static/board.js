// BoardSession is one open board: its state, who is here and who is
// typing, and the changes the user makes. The page's one live connection
// (the client's follow(), in app.js) hands it the board's events, resets and
// presence. Changes are optimistic: they show at once, go to the server with
// a fresh Idempotency-Key, and are recognised when their event comes back
// with that key as mutationId; a refused change is rolled back.

import { ApiError, get, newKey, request } from './api.js';
import {
  applyEvent, clone, fromSnapshot, locate, moveListIn, moveTaskIn, putList, putTask, removeList, removeTask,
} from './state.js';
import { toast } from './ui.js';

const TYPING_EVERY = 2000; // at most one typing message per this long
const TYPING_LAPSE = 6000; // a typing indicator without news goes away
const ACK_GRACE = 15000; // an acknowledged change whose event never came

const enc = encodeURIComponent;

export class BoardSession {
  /**
   * hooks: changed() after any change to what is shown, gone(message) when
   * the board disappears. follower is the live connection (typing goes
   * through it); status the connection state, set by the page.
   */
  constructor(boardId, me, hooks) {
    this.boardId = boardId;
    this.me = me;
    this.hooks = hooks;
    this.server = null; // the model as the server described it
    this.ops = []; // pending optimistic changes, oldest first
    this.preview = null; // a keyboard move in progress: {taskId, listId, index}
    this.presence = new Map(); // user id → {id, name}
    this.typing = new Map(); // task id → Map(user id → {name, timer})
    this.typingTask = null;
    this.typingSentAt = 0;
    this.resyncing = false;
    this.closed = false;
    this.follower = null;
    this.status = null;
  }

  /** load fetches the snapshot; it rejects with an ApiError. */
  async load() {
    const snap = await get(`/boards/${enc(this.boardId)}`);
    this.server = fromSnapshot(snap);
  }

  /** setStatus takes the connection state ({status, transport, retryAt}). */
  setStatus(s) {
    this.status = s;
    // Who is here is known only while connected; the next connection
    // tells again.
    if (s.status !== 'live' && this.presence.size) {
      this.presence.clear();
      this.changed();
    }
  }

  /** fetchPresence asks who is here (for transports that do not tell). */
  async fetchPresence() {
    try {
      const body = await get(`/boards/${enc(this.boardId)}/presence`, { retry: false });
      if (!this.closed) this.setPresence(body?.data ?? []);
    } catch { /* presence is best effort */ }
  }

  /** close stops showing the board. */
  close() {
    this.closed = true;
    this.stopTyping();
    for (const users of this.typing.values()) for (const u of users.values()) clearTimeout(u.timer);
    this.typing.clear();
  }

  /** view is what the page shows: the server state with pending changes. */
  view() {
    const v = clone(this.server);
    for (const op of this.ops) op.apply(v);
    if (this.preview) {
      const { taskId, listId, index } = this.preview;
      moveTaskIn(v, taskId, listId, index);
    }
    return v;
  }

  /** board is the board's row. */
  get board() {
    return this.server.board;
  }

  /**
   * role is the user's role on the board: owner, editor or viewer. Members
   * of servers from before roles count as owners.
   */
  get role() {
    return this.server?.members.find((u) => u.id === this.me.id)?.role ?? 'owner';
  }

  /** canEdit reports whether the user may change lists and tasks. */
  get canEdit() {
    return this.role !== 'viewer';
  }

  /** isOwner reports whether the user may rename the board and manage its members. */
  get isOwner() {
    return this.role === 'owner';
  }

  changed() {
    if (!this.closed) this.hooks.changed();
  }

  // ---- events ----

  onEvent(ev) {
    if (this.closed || !this.server) return;
    if (!ev.seq) {
      this.onEphemeral(ev);
      return;
    }
    if (this.resyncing || ev.seq <= this.server.seq) return;
    if (ev.seq !== this.server.seq + 1) {
      this.resync();
      return;
    }
    applyEvent(this.server, ev);
    this.server.seq = ev.seq;
    if (ev.mutationId) this.ops = this.ops.filter((op) => op.key !== ev.mutationId);
    this.prune();
    if (this.server.deleted) {
      this.hooks.gone('This board was deleted');
      return;
    }
    if (ev.type === 'member_removed' && ev.userId === this.me.id) {
      this.hooks.gone(this.leaving ? 'You left the board' : 'You were removed from this board');
      return;
    }
    if (ev.type === 'member_updated' && ev.userId === this.me.id && !this.canEdit) {
      this.stopTyping();
      this.ops = []; // changes still pending will be refused
    }
    this.changed();
  }

  onEphemeral(ev) {
    const user = ev.user;
    switch (ev.type) {
      case 'user_joined':
        if (user) this.presence.set(user.id, { id: user.id, name: user.name });
        break;
      case 'user_left':
        if (user && user.id !== this.me.id) this.presence.delete(user.id);
        break;
      case 'user_typing':
        if (user && ev.taskId && user.id !== this.me.id) this.setTyping(ev.taskId, user, true);
        break;
      case 'user_stopped_typing':
        if (user && ev.taskId) this.setTyping(ev.taskId, user, false);
        break;
      default:
        return;
    }
    this.changed();
  }

  setPresence(users) {
    this.presence = new Map(users.map((u) => [u.id, { id: u.id, name: u.name }]));
    this.changed();
  }

  /** viewers lists who is looking at the board, the user first. */
  viewers() {
    const others = [...this.presence.values()].filter((u) => u.id !== this.me.id);
    return [{ id: this.me.id, name: this.me.name }, ...others];
  }

  setTyping(taskId, user, on) {
    let users = this.typing.get(taskId);
    const prev = users?.get(user.id);
    if (prev) clearTimeout(prev.timer);
    if (!on) {
      users?.delete(user.id);
      if (users && users.size === 0) this.typing.delete(taskId);
      return;
    }
    if (!users) {
      users = new Map();
      this.typing.set(taskId, users);
    }
    const timer = setTimeout(() => {
      this.setTyping(taskId, user, false);
      this.changed();
    }, TYPING_LAPSE);
    users.set(user.id, { name: user.name, timer });
  }

  /** typers returns the names of the others typing on a task. */
  typers(taskId) {
    return [...(this.typing.get(taskId)?.values() ?? [])].map((u) => u.name);
  }

  /** typingOn tells the others that the user is editing a task. */
  typingOn(taskId) {
    if (!this.canEdit) return;
    const now = Date.now();
    if (this.typingTask === taskId && now - this.typingSentAt < TYPING_EVERY) return;
    if (this.typingTask && this.typingTask !== taskId) this.stopTyping();
    if (this.follower?.typing(this.boardId, taskId)) {
      this.typingTask = taskId;
      this.typingSentAt = now;
    }
  }

  /** stopTyping tells the others that the user stopped editing. */
  stopTyping() {
    if (!this.typingTask) return;
    this.follower?.stopTyping(this.boardId, this.typingTask);
    this.typingTask = null;
    this.typingSentAt = 0;
  }

  /**
   * reset replaces the board with a snapshot the connection fetched after
   * a reset; the events after its seq follow.
   */
  reset(snap, started = Date.now()) {
    if (this.closed) return;
    this.server = fromSnapshot(snap);
    // Changes acknowledged before the snapshot was asked for are in it.
    this.ops = this.ops.filter((op) => !(op.ackedAt && op.ackedAt < started));
    this.prune();
    this.changed();
  }

  // resync refetches the snapshot after a gap, then goes on from its seq.
  async resync() {
    if (this.resyncing || this.closed) return;
    this.resyncing = true;
    const started = Date.now();
    try {
      const snap = await get(`/boards/${enc(this.boardId)}`);
      this.resyncing = false;
      this.reset(snap, started);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) this.hooks.gone('Board not found');
    } finally {
      this.resyncing = false;
    }
  }

  // prune drops acknowledged changes that the server state already shows.
  prune() {
    this.ops = this.ops.filter((op) => !(op.done && op.done(this.server)));
  }

  // ---- changes ----

  /**
   * mutate applies a change optimistically and sends it. apply(model)
   * replays the change on a view; done(response) returns the predicate that
   * tells when the server state shows it. Resolves to the response body, or
   * null when the change was refused (and rolled back).
   */
  async mutate({ method, path, body, apply, done, what, headers }) {
    const op = { key: newKey(), apply, done: null, ackedAt: 0 };
    this.ops.push(op);
    this.changed();
    try {
      const res = await request(method, path, { body, key: op.key, headers });
      op.ackedAt = Date.now();
      op.done = done ? done(res.body) : () => true;
      this.prune();
      this.changed();
      setTimeout(() => {
        // The event should have come by now; unless the connection is
        // down, the server state is the truth.
        if (this.ops.includes(op) && this.status?.status === 'live') {
          this.ops = this.ops.filter((o) => o !== op);
          this.changed();
        }
      }, ACK_GRACE);
      return res.body ?? {};
    } catch (err) {
      this.ops = this.ops.filter((o) => o !== op);
      this.changed();
      if (!(err instanceof ApiError && err.status === 401) && !this.closed) {
        const why = err.status === 412 ? 'someone else changed it in the meantime. Have a look and try again.' : err.message;
        toast(`Couldn't ${what}: ${why}`, { kind: 'error', timeout: 8000 });
      }
      return null;
    }
  }

  /** createTask adds a task at the end of a list. */
  createTask(listId, title) {
    const tempId = `pending-${newKey()}`;
    let realId = null;
    return this.mutate({
      method: 'POST',
      path: '/tasks',
      body: { title, listId },
      what: 'add the task',
      apply: (m) => {
        if (realId && m.tasks.has(realId)) return;
        if (!m.lists.has(listId)) return;
        const now = new Date().toISOString();
        putTask(m, {
          id: tempId, list_id: listId, board_id: this.boardId, title, description: null, assignee_id: null,
          position: -1, version: 0, created_at: now, updated_at: now, pending: true,
        }, Infinity);
      },
      done: (task) => {
        realId = task.id;
        return (m) => m.tasks.has(realId);
      },
    });
  }

  /**
   * updateTask changes a task's title, description or assignee. With
   * ifVersion the change applies only if nobody changed the task since it
   * had that version.
   */
  updateTask(taskId, fields, ifVersion = 0) {
    return this.mutate({
      method: 'PATCH',
      path: `/tasks/${enc(taskId)}`,
      body: fields,
      headers: ifVersion ? { 'If-Match': `"${ifVersion}"` } : {},
      what: 'save the task',
      apply: (m) => {
        const t = m.tasks.get(taskId);
        if (!t) return;
        const next = { ...t };
        if ('title' in fields) next.title = fields.title;
        if ('description' in fields) next.description = fields.description;
        if ('assigneeId' in fields) next.assignee_id = fields.assigneeId;
        m.tasks.set(taskId, next);
      },
      done: versionReached('tasks', taskId),
    });
  }

  /**
   * moveTask moves a task to index of a list (as a splice: the index in the
   * list without the task). A move to where the task is sends nothing.
   */
  moveTask(taskId, listId, index) {
    const at = locate(this.view(), taskId);
    if (!at || (at.listId === listId && at.index === index)) return Promise.resolve(null);
    return this.mutate({
      method: 'PATCH',
      path: `/tasks/${enc(taskId)}/move`,
      body: { listId, position: index },
      what: 'move the task',
      apply: (m) => moveTaskIn(m, taskId, listId, index),
      done: versionReached('tasks', taskId),
    });
  }

  /** deleteTask deletes a task. */
  deleteTask(taskId) {
    return this.mutate({
      method: 'DELETE',
      path: `/tasks/${enc(taskId)}`,
      what: 'delete the task',
      apply: (m) => removeTask(m, taskId),
      done: () => (m) => !m.tasks.has(taskId),
    });
  }

  /** createList adds a list at the end of the board. */
  createList(name) {
    const tempId = `pending-${newKey()}`;
    let realId = null;
    return this.mutate({
      method: 'POST',
      path: `/boards/${enc(this.boardId)}/lists`,
      body: { name },
      what: 'add the list',
      apply: (m) => {
        if (realId && m.lists.has(realId)) return;
        putList(m, { id: tempId, board_id: this.boardId, name, position: -1, version: 0, pending: true }, Infinity);
      },
      done: (list) => {
        realId = list.id;
        return (m) => m.lists.has(realId);
      },
    });
  }

  /** renameList renames a list. */
  renameList(listId, name) {
    return this.mutate({
      method: 'PATCH',
      path: `/lists/${enc(listId)}`,
      body: { name },
      what: 'rename the list',
      apply: (m) => {
        const l = m.lists.get(listId);
        if (l) m.lists.set(listId, { ...l, name });
      },
      done: versionReached('lists', listId),
    });
  }

  /** moveList moves a list to index among the board's lists. */
  moveList(listId, index) {
    const v = this.view();
    if (v.listOrder.indexOf(listId) === index || index < 0 || index >= v.listOrder.length) {
      return Promise.resolve(null);
    }
    return this.mutate({
      method: 'PATCH',
      path: `/lists/${enc(listId)}/move`,
      body: { position: index },
      what: 'move the list',
      apply: (m) => moveListIn(m, listId, index),
      done: versionReached('lists', listId),
    });
  }

  /** deleteList deletes a list and its tasks. */
  deleteList(listId) {
    return this.mutate({
      method: 'DELETE',
      path: `/lists/${enc(listId)}`,
      what: 'delete the list',
      apply: (m) => removeList(m, listId),
      done: () => (m) => !m.lists.has(listId),
    });
  }

  /** renameBoard renames the board. */
  renameBoard(name) {
    return this.mutate({
      method: 'PATCH',
      path: `/boards/${enc(this.boardId)}`,
      body: { name },
      what: 'rename the board',
      apply: (m) => { m.board = { ...m.board, name }; },
      done: () => (m) => m.board.name === name,
    });
  }
}

// ---- members ----

/**
 * Members are changed by owners (a member may leave); these wait for the
 * server rather than show at once, as the answer decides what is shown.
 */
Object.assign(BoardSession.prototype, {
  /** addMember adds a user by email with a role; resolves to the member or null. */
  async addMember(email, role) {
    return this.memberRequest('POST', `/boards/${enc(this.boardId)}/members`, { email, role }, 'add the member');
  },

  /** setRole gives a member another role. */
  async setRole(userId, role) {
    return this.memberRequest('PATCH', `/boards/${enc(this.boardId)}/members/${enc(userId)}`, { role }, 'change the role');
  },

  /** removeMember removes a member from the board. */
  async removeMember(userId) {
    return this.memberRequest('DELETE', `/boards/${enc(this.boardId)}/members/${enc(userId)}`, undefined, 'remove the member');
  },

  /** leave removes the user from the board. */
  async leave() {
    this.leaving = true;
    const res = await this.memberRequest('DELETE', `/boards/${enc(this.boardId)}/members/${enc(this.me.id)}`, undefined, 'leave the board');
    if (res === null) this.leaving = false;
    return res;
  },

  async memberRequest(method, path, body, what) {
    try {
      const res = await request(method, path, { body, key: newKey() });
      return res.body ?? {};
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 401) && !this.closed) {
        const why = err.status === 409 ? 'a board needs at least one owner.' : err.message;
        toast(`Couldn't ${what}: ${why}`, { kind: 'error', timeout: 8000 });
      }
      return null;
    }
  },
});

// versionReached returns the done function of a change to a task or list:
// the server state shows it once the row's version reached the response's.
function versionReached(kind, id) {
  return (row) => (m) => {
    const cur = m[kind].get(id);
    return !cur || !row || cur.version >= row.version;
  };
}
