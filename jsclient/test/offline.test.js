// Writes made while the server is out of reach are held in order, each with
// its Idempotency-Key, and sent once when it is back; refused writes are
// reported and not retried.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { board, client, control, env, recorder, skip, waitFor } from './helpers.js';

for (const transport of ['sse', 'poll']) {
  test(`writes made offline are sent once when the connection is back (${transport})`, { skip }, async () => {
    const alice = client(env.alice);
    const { board: b, list } = await board(alice);
    const rec = recorder();
    const statuses = [];
    const off = alice.on('status', (s) => statuses.push(s));
    const f = alice.follow([b.id], { ...rec.handlers, transports: [transport], snapshots: true, pollTimeout: 2 });
    try {
      await waitFor(() => rec.live(transport), 'live');
      const base = rec.snapshots[b.id].seq;
      await control('stop');
      await waitFor(() => f.state === 'reconnecting', 'the connection down');
      assert.equal(alice.online, false);
      const keys = ['k1', 'k2', 'k3'].map((k) => `${k}-${transport}-${b.id}`);
      const writes = keys.map((key, i) => alice.createTask({ title: `offline ${i}`, listId: list.id }, { key }));
      assert.equal(alice.pending, 3);
      assert.deepEqual(alice.pendingWrites.map((w) => w.key), keys);
      assert.ok(statuses.some((s) => !s.online && s.pending === 3), 'the status says offline with 3 waiting');
      await control('start');
      const tasks = await Promise.all(writes);
      assert.deepEqual(tasks.map((t) => t.title), ['offline 0', 'offline 1', 'offline 2']);
      assert.equal(alice.pending, 0);
      await waitFor(() => rec.seqs[b.id]?.length === 3, 'the three events');
      assert.deepEqual(rec.seqs[b.id], [base + 1, base + 2, base + 3]);
      const evs = rec.all.filter((e) => e.type === 'task_created');
      assert.deepEqual(evs.map((e) => e.mutationId), keys);
      assert.ok(evs.every((e) => e.own));
      assert.equal((await alice.snapshot(b.id)).tasks.length, 3);
      await waitFor(() => statuses.at(-1)?.online && statuses.at(-1).pending === 0, 'online with nothing waiting');
    } finally {
      off();
      f.close();
      alice.close();
    }
  });
}

test('a write that cannot reach the server is held and sent once', { skip }, async () => {
  const alice = client(env.alice);
  const { board: b, list } = await board(alice);
  await control('stop');
  let settled = false;
  const w = alice.createTask({ title: 'held', listId: list.id }).finally(() => { settled = true; });
  try {
    await waitFor(() => !alice.online, 'offline');
    assert.equal(alice.pending, 1);
    assert.equal(settled, false);
  } finally {
    await control('start');
  }
  const t = await w;
  assert.equal(t.title, 'held');
  const snap = await alice.snapshot(b.id);
  assert.deepEqual(snap.tasks.map((x) => x.title), ['held']);
  alice.close();
});

test('a refused write is reported, not retried', { skip }, async () => {
  const alice = client(env.alice);
  const { board: b, list } = await board(alice);
  const rejected = [];
  alice.on('rejected', (r) => rejected.push(r));
  const t = await alice.createTask({ title: 'x', listId: list.id });
  await alice.updateTask(t.id, { title: 'y' });
  const err = await alice.updateTask(t.id, { title: 'z' }, { version: t.version }).catch((e) => e);
  assert.equal(err.status, 412);
  assert.equal(rejected.length, 1);
  assert.equal(rejected[0].error, err);
  assert.equal(alice.pending, 0);
  // The writes after it go on.
  assert.equal((await alice.renameBoard(b.id, 'after')).name, 'after');
  alice.close();
});
