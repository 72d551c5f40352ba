// Presence of a follower of many boards: present on the board it views
// only, moved by setPresence on the same connection without losing or
// repeating an event.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { board, client, env, hasWebSocket, range, recorder, skip, waitFor } from './helpers.js';

const ALICE = 'user-alice';

/** present says whether alice is in GET /boards/{id}/presence. */
async function present(c, boardId) {
  return (await c.presence(boardId)).some((u) => u.id === ALICE);
}

for (const transport of ['ws', 'sse']) {
  const skipFor = skip || (transport === 'ws' && !hasWebSocket ? 'this node has no WebSocket' : false);
  test(`setPresence moves the user between boards (${transport})`, { skip: skipFor }, async () => {
    const alice = client(env.alice);
    const admin = client(env.alice); // asks who is present
    const a = await board(alice);
    const b = await board(alice);
    const rec = recorder();
    const f = alice.follow([a.board.id, b.board.id], { ...rec.handlers, transports: [transport], snapshots: true, presence: a.board.id });
    const n = 12;
    try {
      assert.equal(f.presence, a.board.id);
      await waitFor(() => rec.live(transport), `live over ${transport}`);
      const base = { [a.board.id]: rec.snapshots[a.board.id].seq, [b.board.id]: rec.snapshots[b.board.id].seq };
      await waitFor(() => present(admin, a.board.id), 'present on A');
      assert.equal(await present(admin, b.board.id), false, 'present on B, which is only followed');

      // Writers on both boards while the presence moves to B.
      const writers = [a, b].map(async ({ list }) => {
        const w = client(env.alice);
        for (let i = 0; i < n; i++) await w.createTask({ title: `w${i}`, listId: list.id });
        w.close();
      });
      await waitFor(() => (rec.seqs[a.board.id]?.length ?? 0) >= 3, 'first events');
      f.setPresence(b.board.id);
      assert.equal(f.presence, b.board.id);
      await waitFor(() => present(admin, b.board.id), 'present on B');
      await waitFor(async () => !(await present(admin, a.board.id)), 'gone from A after the grace period');
      await Promise.all(writers);
      await waitFor(() => [a, b].every(({ board: x }) => (rec.seqs[x.id]?.length ?? 0) >= n), 'every event');
      for (const { board: x } of [a, b]) {
        assert.deepEqual(rec.seqs[x.id], range(base[x.id] + 1, base[x.id] + n), `board ${x.id}: each event once, in order`);
      }

      f.setPresence(null);
      await waitFor(async () => !(await present(admin, b.board.id)), 'gone from B');
      assert.equal(await present(admin, a.board.id), false);
      // Still following both.
      await alice.createTask({ title: 'after', listId: a.list.id });
      await waitFor(() => rec.seqs[a.board.id].length === n + 1, 'an event after setPresence(null)');
      assert.deepEqual(rec.resets, []);
      assert.equal(f.transport, transport);
    } finally {
      f.close();
      alice.close();
      admin.close();
    }
  });
}

test('a one-board follower is present on its board by default', { skip }, async () => {
  const alice = client(env.alice);
  const a = await board(alice);
  const f = alice.follow([a.board.id], { transports: ['sse'] });
  try {
    assert.equal(f.presence, a.board.id);
    await waitFor(() => present(alice, a.board.id), 'present');
  } finally {
    f.close();
    alice.close();
  }
  const many = client(env.alice).follow([a.board.id, (await board(client(env.alice))).board.id], {});
  assert.equal(many.presence, null);
  many.close();
});
