// Every REST route of the API through the client, against a real server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TaskboardError, VERSION } from '../taskboard.js';
import { board, client, env, skip, unique } from './helpers.js';

test('public routes', { skip }, async () => {
  const c = client();
  assert.deepEqual(await c.health(), { status: 'ok' });
  assert.equal((await c.ready()).status, 'ready');
  const doc = await c.openapi();
  assert.ok(doc.openapi && doc.paths['/boards']);
  assert.equal(VERSION, '1.0.0');
});

test('boards, lists, tasks and their errors', { skip }, async () => {
  const alice = client(env.alice);
  const me = await alice.me();
  assert.equal(me.id, 'user-alice');
  const name = unique('rest');
  const b = await alice.createBoard(name);
  assert.equal(b.name, name);
  assert.ok((await alice.boards()).some((x) => x.id === b.id));
  const renamed = await alice.renameBoard(b.id, `${name} renamed`);
  assert.equal(renamed.name, `${name} renamed`);

  const todo = await alice.createList(b.id, 'To do');
  const done = await alice.createList(b.id, 'Done');
  assert.deepEqual([todo.position, done.position], [0, 1]);
  const l2 = await alice.renameList(done.id, 'Finished', { version: done.version });
  assert.equal(l2.name, 'Finished');
  const moved = await alice.moveList(l2.id, 0, { version: l2.version });
  assert.equal(moved.position, 0);

  const t1 = await alice.createTask({ title: 'one', listId: todo.id });
  const t2 = await alice.createTask({ title: 'two', listId: todo.id, description: 'd', position: 0 });
  assert.equal(t2.position, 0);
  assert.equal((await alice.task(t1.id)).title, 'one');
  const u = await alice.updateTask(t1.id, { title: 'uno', description: null }, { version: t1.version });
  assert.equal(u.title, 'uno');
  // A stale version is 412 and changes nothing.
  const stale = await alice.updateTask(t1.id, { title: 'late' }, { version: t1.version }).catch((e) => e);
  assert.ok(stale instanceof TaskboardError && stale.isPreconditionFailed, String(stale));
  const mv = await alice.moveTask(t1.id, moved.id, 0, { version: u.version });
  assert.equal(mv.list_id, moved.id);
  assert.deepEqual((await alice.tasks(b.id)).map((t) => t.title).sort(), ['two', 'uno']);

  // Validation errors carry the fields.
  const bad = await alice.createTask({ title: '', listId: todo.id }).catch((e) => e);
  assert.ok(bad instanceof TaskboardError && bad.isValidation, String(bad));
  assert.deepEqual(bad.fields[0].path, ['title']);
  const missing = await alice.task('no-such-task').catch((e) => e);
  assert.ok(missing.isNotFound && missing.message === 'Task not found', String(missing));

  // Snapshot with ETag: unchanged is null.
  const res = await alice.request('GET', `boards/${b.id}`);
  assert.equal(res.body.seq, (await alice.snapshot(b.id)).seq);
  assert.equal(await alice.snapshot(b.id, { etag: res.etag }), null);

  // Short polling by seq and by time, long polling one board and many.
  const page = await alice.updates(b.id, { after: 0, limit: 2 });
  assert.equal(page.data.length, 2);
  assert.equal(page.more, true);
  const since = await alice.updates(b.id, { since: new Date(Date.now() - 60000) });
  assert.ok(Array.isArray(since.data) && since.timestamp);
  const polled = await alice.poll(b.id, { after: 0, timeout: 1 });
  assert.ok(polled.data.length > 0);
  const multi = await alice.pollBoards([b.id], { after: { [b.id]: 0 }, timeout: 1 });
  assert.ok(multi.data.length > 0 && multi.cursor.startsWith(`${b.id}:`));
  const gone = await alice.updates(b.id, { after: 1e9 }).catch((e) => e);
  assert.ok(gone.isReset && gone.reason === 'ahead' && Number.isInteger(gone.seq), String(gone));

  await alice.deleteTask(t2.id);
  await alice.deleteList(todo.id);
  await alice.deleteBoard(b.id);
  assert.ok((await alice.snapshot(b.id).catch((e) => e)).isNotFound);
});

test('members, roles and presence', { skip }, async () => {
  const alice = client(env.alice);
  const carol = client(env.carol);
  const { board: b } = await board(alice);
  const m = await alice.addMember(b.id, { userId: env.carolId, role: 'viewer' });
  assert.deepEqual(m, { board_id: b.id, user_id: env.carolId, role: 'viewer' });
  const forbidden = await carol.createList(b.id, 'no').catch((e) => e);
  assert.ok(forbidden.isForbidden, String(forbidden));
  assert.equal((await alice.setRole(b.id, env.carolId, 'editor')).role, 'editor');
  assert.ok(Array.isArray(await alice.presence(b.id)));
  await alice.removeMember(b.id, env.carolId);
  assert.ok((await carol.snapshot(b.id).catch((e) => e)).isNotFound);
  const byEmail = await alice.addMember(b.id, { email: 'bob@example.com' });
  assert.equal(byEmail.user_id, 'user-bob');
});

test('sessions, tickets and tokens', { skip }, async () => {
  const alice = client(env.alice);
  const anon = client();
  const user = await anon.signIn(env.alice);
  assert.equal(user.id, 'user-alice');
  assert.equal((await anon.signInDemo('user-bob')).id, 'user-bob');
  await anon.signOut();
  const ticket = await alice.createTicket();
  assert.ok(ticket.ticket && ticket.expires_at);
  const made = await alice.createToken({ name: unique('token'), scope: 'read', expiresIn: 3600 });
  assert.ok(made.token && made.scope === 'read');
  assert.ok((await alice.tokens()).some((t) => t.id === made.id));
  const reader = client(made.token);
  assert.equal((await reader.me()).id, 'user-alice');
  await alice.revokeToken(made.id);
  const after = await reader.me().catch((e) => e);
  assert.ok(after.isUnauthorized, String(after));
});

test('webhooks', { skip }, async () => {
  const alice = client(env.alice);
  const { board: b } = await board(alice);
  const w = await alice.createWebhook(b.id, { url: 'http://127.0.0.1:9/hook', events: ['task_created'], description: 'test' });
  assert.ok(w.secret.startsWith('whsec_'));
  assert.equal((await alice.webhooks(b.id)).length, 1);
  assert.equal((await alice.webhook(w.id)).url, 'http://127.0.0.1:9/hook');
  assert.equal((await alice.updateWebhook(w.id, { status: 'paused' })).status, 'paused');
  assert.equal((await alice.replayWebhook(w.id, 0)).id, w.id);
  assert.ok(Array.isArray(await alice.webhookDeliveries(w.id, { limit: 10 })));
  await alice.deleteWebhook(w.id);
  assert.ok((await alice.webhook(w.id).catch((e) => e)).isNotFound);
});

test('export and import', { skip }, async () => {
  const alice = client(env.alice);
  const { board: b, list } = await board(alice);
  await alice.createTask({ title: 'exported', listId: list.id });
  const doc = await alice.exportBoard(b.id);
  assert.equal(doc.format, 'taskboard/1');
  const snap = await alice.importBoard(doc);
  assert.notEqual(snap.board.id, b.id);
  assert.deepEqual(snap.tasks.map((t) => t.title), ['exported']);
});

test('admin routes', { skip }, async () => {
  const c = client();
  const conns = await c.adminConnections({ token: env.admin });
  assert.equal(typeof conns.total, 'number');
  assert.match(await c.metrics({ token: env.admin }), /taskboard_/);
  const denied = await c.adminConnections({ token: 'wrong' }).catch((e) => e);
  assert.ok(denied.isUnauthorized);
});
