// follow() against a real server: many boards on one connection over each
// transport, exact resume across a server restart, resets, '*', and the
// recognition of the client's own writes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { board, client, control, env, hasWebSocket, range, recorder, skip, waitFor } from './helpers.js';

const transports = ['ws', 'sse', 'poll'];
const skipFor = (t) => skip || (t === 'ws' && !hasWebSocket ? 'this node has no WebSocket (Node 20/21: --experimental-websocket)' : false);

/** boards creates n boards of alice's with a list each; returns them with their snapshot seqs. */
async function boards(c, n) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const { board: b, list } = await board(c);
    out.push({ id: b.id, list: list.id, seq: (await c.snapshot(b.id)).seq });
  }
  return out;
}

for (const transport of transports) {
  test(`follow three boards on one ${transport} connection`, { skip: skipFor(transport) }, async () => {
    const alice = client(env.alice);
    const bob = client(env.bob);
    const bs = await boards(alice, 3);
    await alice.addMember(bs[0].id, { userId: 'user-bob' });
    const rec = recorder();
    const f = alice.follow(bs.map((b) => b.id), { ...rec.handlers, transports: [transport], snapshots: true, pollTimeout: 2 });
    try {
      await waitFor(() => rec.live(transport), `live over ${transport}`);
      assert.equal(f.transport, transport);
      const base = Object.fromEntries(bs.map((b) => [b.id, rec.snapshots[b.id].seq]));
      const keys = new Set();
      for (let i = 0; i < 3; i++) {
        for (const b of bs) {
          const key = `own-${transport}-${b.id}-${i}`;
          keys.add(key);
          await alice.createTask({ title: `t${i}`, listId: b.list }, { key });
        }
      }
      const other = await bob.createTask({ title: 'from bob', listId: bs[0].list });
      await waitFor(() => bs.every((b, i) => (rec.seqs[b.id]?.length ?? 0) === (i === 0 ? 4 : 3)), 'every event');
      for (const b of bs) {
        assert.deepEqual(rec.seqs[b.id], range(base[b.id] + 1, base[b.id] + (b === bs[0] ? 4 : 3)), `board ${b.id}`);
      }
      for (const ev of rec.all.filter((e) => e.type === 'task_created')) {
        if (ev.task.id === other.id) assert.equal(ev.own, false, 'bob\'s write is not alice\'s own');
        else {
          assert.equal(ev.own, true, `own write ${ev.mutationId}`);
          assert.ok(keys.has(ev.mutationId));
        }
      }
      // A long poll is counted only while it is held, not between two requests: wait for one.
      await waitFor(async () => (await client().adminConnections({ token: env.admin })).total >= 1, 'a connection in /admin/connections');
      assert.deepEqual(rec.resets, []);
    } finally {
      f.close();
      alice.close();
    }
    assert.equal(rec.states.at(-1).state, 'closed');
  });

  test(`a server restart loses and repeats nothing (${transport})`, { skip: skipFor(transport) }, async () => {
    const alice = client(env.alice);
    const bs = await boards(alice, 3);
    const rec = recorder();
    const f = alice.follow(bs.map((b) => b.id), { ...rec.handlers, transports: [transport], snapshots: true, pollTimeout: 2 });
    const n = 15;
    try {
      await waitFor(() => rec.live(transport), `live over ${transport}`);
      const base = Object.fromEntries(bs.map((b) => [b.id, rec.snapshots[b.id].seq]));
      // One writer per board, each a client of its own, writing on through the restart.
      const writers = bs.map(async (b) => {
        const w = client(env.alice);
        for (let i = 0; i < n; i++) await w.createTask({ title: `w${i}`, listId: b.list });
        w.close();
      });
      await waitFor(() => bs.every((b) => (rec.seqs[b.id]?.length ?? 0) >= 3), 'first events');
      await control('restart');
      await Promise.all(writers);
      await waitFor(() => bs.every((b) => (rec.seqs[b.id]?.length ?? 0) >= n), 'every event after the restart');
      // A WebSocket or SSE stream is cut by the restart. A long poll may
      // not be: one answered at shutdown is followed by the next poll, which
      // can reach the restarted server at its first try.
      if (transport !== 'poll') assert.ok(rec.states.some((s) => s.state === 'reconnecting'), 'the connection was lost');
      await waitFor(() => rec.live(transport), 'live again');
      for (const b of bs) {
        assert.deepEqual(rec.seqs[b.id], range(base[b.id] + 1, base[b.id] + n), `board ${b.id}`);
        const snap = await alice.snapshot(b.id);
        assert.equal(snap.tasks.length, n, 'each write applied once');
      }
    } finally {
      f.close();
      alice.close();
    }
  });

  test(`a reset on one board, the others go on (${transport})`, { skip: skipFor(transport) }, async () => {
    const alice = client(env.alice);
    const bs = await boards(alice, 3);
    for (let i = 0; i < 12; i++) await alice.createTask({ title: `old${i}`, listId: bs[0].list });
    await control('trim'); // bs[0]'s log keeps its 5 newest events
    const rec = recorder();
    const after = { [bs[0].id]: 1, [bs[1].id]: bs[1].seq, [bs[2].id]: bs[2].seq };
    const f = alice.follow(bs.map((b) => b.id), { ...rec.handlers, transports: [transport], after, pollTimeout: 2 });
    try {
      await waitFor(() => rec.resets.length === 1, 'the reset');
      const r = rec.resets[0];
      assert.equal(r.boardId, bs[0].id);
      assert.equal(r.reason, 'history_truncated');
      assert.equal(r.stopped, false);
      assert.equal(r.snapshot.tasks.length, 12);
      await waitFor(() => rec.live(transport), 'live');
      for (const b of bs) await alice.createTask({ title: 'new', listId: b.list });
      await waitFor(() => bs.every((b) => rec.seqs[b.id]?.length === 1), 'the new events');
      assert.deepEqual(rec.seqs[bs[0].id], [r.snapshot.seq + 1]);
      assert.deepEqual(rec.seqs[bs[1].id], [bs[1].seq + 1]);
      assert.deepEqual(rec.seqs[bs[2].id], [bs[2].seq + 1]);
      assert.equal(rec.resets.length, 1);
    } finally {
      f.close();
      alice.close();
    }
  });
}

for (const transport of ['sse', 'poll', 'ws']) {
  test(`follow('*') picks up a board the user is added to (${transport})`, { skip: skipFor(transport) }, async () => {
    const alice = client(env.alice);
    const carol = client(env.carol);
    const [first] = await boards(alice, 1);
    await alice.addMember(first.id, { userId: env.carolId });
    const rec = recorder();
    const f = carol.follow('*', { ...rec.handlers, transports: [transport], pollTimeout: 1 });
    try {
      await waitFor(() => rec.live(transport), 'live');
      // A WebSocket is live once its join of '*' is sent; its boards come
      // with joined.
      await waitFor(() => f.boardIds.includes(first.id), 'her first board followed');
      const [added] = await boards(alice, 1);
      await alice.addMember(added.id, { userId: env.carolId });
      await waitFor(() => f.boardIds.includes(added.id), 'the new board followed');
      assert.ok(rec.following.some((x) => x.boardId === added.id));
      await waitFor(() => rec.live(transport), 'live');
      const t = await alice.createTask({ title: 'for carol', listId: added.list });
      await waitFor(() => rec.all.some((e) => e.type === 'task_created' && e.task.id === t.id), 'the task on the new board');
      assert.equal(rec.all.find((e) => e.task?.id === t.id).own, false);
      if (transport !== 'poll') {
        // Followed from its member_added, which is its first event here.
        const first = rec.all.find((e) => e.boardId === added.id && typeof e.seq === 'number');
        assert.equal(first?.type, 'member_added', 'member_added first');
      }
      await alice.removeMember(added.id, env.carolId);
      await waitFor(() => rec.resets.some((r) => r.boardId === added.id && r.stopped), 'access_revoked');
      assert.ok(!f.boardIds.includes(added.id));
      await alice.removeMember(first.id, env.carolId);
    } finally {
      f.close();
      carol.close();
      alice.close();
    }
  });
}

for (const transport of transports) {
  test(`add and remove boards on the same connection (${transport})`, { skip: skipFor(transport) }, async () => {
    const alice = client(env.alice);
    const bs = await boards(alice, 2);
    const rec = recorder();
    const f = alice.follow([bs[0].id], { ...rec.handlers, transports: [transport], after: { [bs[0].id]: bs[0].seq }, pollTimeout: 1 });
    try {
      await waitFor(() => rec.live(transport), 'live');
      f.add(bs[1].id, bs[1].seq);
      assert.deepEqual(f.boardIds.sort(), bs.map((b) => b.id).sort());
      await waitFor(() => rec.live(transport), 'live with both');
      for (const b of bs) await alice.createTask({ title: 'both', listId: b.list });
      await waitFor(() => bs.every((b) => rec.seqs[b.id]?.length === 1), 'an event of each');
      assert.deepEqual(rec.seqs[bs[1].id], [bs[1].seq + 1]);
      f.remove(bs[1].id);
      await waitFor(() => rec.live(transport), 'live after the removal');
      await alice.createTask({ title: 'unseen', listId: bs[1].list });
      await alice.createTask({ title: 'seen', listId: bs[0].list });
      await waitFor(() => rec.seqs[bs[0].id]?.length === 2, 'the second event of the first board');
      assert.equal(rec.seqs[bs[1].id].length, 1, 'nothing more from the removed board');
    } finally {
      f.close();
      alice.close();
    }
  });
}
