// A board's state: what the server last said (a snapshot plus the logged
// events after it, applied strictly in seq order) and, on top of it, the
// optimistic changes the server has not confirmed yet. The page renders a
// view: a copy of the server state with the pending changes replayed.
//
// A model is {board, members, lists: Map, listOrder: [id], tasks: Map,
// order: Map(listId → [taskId])}. Order arrays are the display order; the
// rows' position fields are not kept up to date for neighbours.

const byPosition = (a, b) => a.position - b.position;

/** fromSnapshot builds a model from GET /boards/{id}. */
export function fromSnapshot(s) {
  const m = {
    board: { ...s.board },
    seq: s.seq,
    members: [...(s.members ?? [])],
    lists: new Map(),
    listOrder: [],
    tasks: new Map(),
    order: new Map(),
    deleted: false,
  };
  for (const l of [...(s.lists ?? [])].sort(byPosition)) {
    m.lists.set(l.id, l);
    m.listOrder.push(l.id);
    m.order.set(l.id, []);
  }
  for (const t of [...(s.tasks ?? [])].sort(byPosition)) {
    m.tasks.set(t.id, t);
    orderOf(m, t.list_id).push(t.id);
  }
  return m;
}

/** clone copies a model so that changes to the copy leave m alone. */
export function clone(m) {
  return {
    ...m,
    members: [...m.members],
    lists: new Map(m.lists),
    listOrder: [...m.listOrder],
    tasks: new Map(m.tasks),
    order: new Map([...m.order].map(([k, v]) => [k, [...v]])),
  };
}

function orderOf(m, listId) {
  let ids = m.order.get(listId);
  if (!ids) {
    ids = [];
    m.order.set(listId, ids);
  }
  return ids;
}

function splice(ids, id, position) {
  const p = Math.max(0, Math.min(Number.isInteger(position) ? position : ids.length, ids.length));
  ids.splice(p, 0, id);
}

/** removeTask takes a task out of the model. */
export function removeTask(m, id) {
  const t = m.tasks.get(id);
  if (!t) return;
  m.tasks.delete(id);
  const ids = m.order.get(t.list_id);
  const i = ids ? ids.indexOf(id) : -1;
  if (i >= 0) ids.splice(i, 1);
}

/** putTask places a task row at position in its list (as a splice). */
export function putTask(m, t, position) {
  removeTask(m, t.id);
  m.tasks.set(t.id, t);
  splice(orderOf(m, t.list_id), t.id, position);
}

/** putList places a list at position among the board's lists. */
export function putList(m, l, position) {
  const i = m.listOrder.indexOf(l.id);
  if (i >= 0) m.listOrder.splice(i, 1);
  m.lists.set(l.id, l);
  splice(m.listOrder, l.id, position);
  orderOf(m, l.id);
}

/** removeList takes a list and its tasks out of the model. */
export function removeList(m, id, taskIds = []) {
  for (const tid of [...(m.order.get(id) ?? []), ...taskIds]) removeTask(m, tid);
  m.lists.delete(id);
  m.order.delete(id);
  const i = m.listOrder.indexOf(id);
  if (i >= 0) m.listOrder.splice(i, 1);
}

/** applyEvent applies one logged event to the model. */
export function applyEvent(m, ev) {
  switch (ev.type) {
    case 'task_created':
    case 'task_moved':
      putTask(m, ev.task, ev.task.position);
      break;
    case 'task_updated':
      if (m.tasks.has(ev.task.id)) m.tasks.set(ev.task.id, ev.task);
      else putTask(m, ev.task, ev.task.position);
      break;
    case 'task_deleted':
      removeTask(m, ev.taskId ?? ev.task?.id);
      break;
    case 'list_created':
    case 'list_moved':
      putList(m, ev.list, ev.list.position);
      break;
    case 'list_updated':
      if (m.lists.has(ev.list.id)) m.lists.set(ev.list.id, ev.list);
      else putList(m, ev.list, ev.list.position);
      break;
    case 'list_deleted':
      removeList(m, ev.list.id, ev.taskIds ?? []);
      break;
    case 'board_updated':
      m.board = { ...m.board, ...ev.board };
      break;
    case 'board_deleted':
      m.deleted = true;
      break;
    case 'member_added':
      if (ev.user && !m.members.some((u) => u.id === ev.user.id)) m.members.push({ ...ev.user, role: ev.role ?? 'owner' });
      break;
    case 'member_updated':
      m.members = m.members.map((u) => (u.id === ev.userId ? { ...u, role: ev.role } : u));
      break;
    case 'member_removed':
      m.members = m.members.filter((u) => u.id !== ev.userId);
      break;
    default:
      break; // a type this page does not know changes nothing it shows
  }
}

/** locate returns the list and index of a task in the model, or null. */
export function locate(m, taskId) {
  const t = m.tasks.get(taskId);
  if (!t) return null;
  return { listId: t.list_id, index: (m.order.get(t.list_id) ?? []).indexOf(taskId) };
}

/** moveTaskIn moves a task to index of listId, as the server's splice does. */
export function moveTaskIn(m, taskId, listId, index) {
  const t = m.tasks.get(taskId);
  if (!t || !m.lists.has(listId)) return;
  putTask(m, { ...t, list_id: listId }, index);
}

/** moveListIn moves a list to index, as the server's splice does. */
export function moveListIn(m, listId, index) {
  const l = m.lists.get(listId);
  if (l) putList(m, l, index);
}
