// The page: sign-in, the board switcher, the connection indicator and
// presence, and the open board. One live connection follows every board of
// the user (the client's follow('*')): it renders the open board and marks
// the others in the switcher when someone changes them.

import { ApiError, client, get, newKey, onUnauthorized, request } from './api.js';
import { BoardSession } from './board.js';
import { TaskEditor } from './editor.js';
import { $, avatar, confirmDialog, el, errorMessage, toast } from './ui.js';
import { BoardView } from './view.js';
import { Webhooks } from './webhooks.js';

const LAST_BOARD = 'taskboard.lastBoard';

/** TRANSPORT_NAMES are the human names of the transports. */
const TRANSPORT_NAMES = { ws: 'WebSocket', sse: 'SSE', poll: 'Long polling' };

const app = {
  me: null, // the signed-in user
  boards: [], // the user's boards
  session: null, // the open BoardSession
  view: null, // its BoardView
  status: null, // the connection state
  countdown: 0, // the reconnect countdown timer
  follower: null, // the live connection to every board of the user
  unread: new Map(), // board id → changes by others since it was last open
};

let editor;
let webhooks;

function show(id) {
  for (const s of ['loading', 'signin', 'workspace']) $(s).hidden = s !== id;
}

// ---- sign in and out ----

// The sign-ins the server offers (GET /sessions), learned on load.
let offers = { token: true, demo: false, demoUsers: [] };

function renderSignInOptions() {
  const users = offers.demo ? offers.demoUsers ?? [] : [];
  $('demo').hidden = users.length === 0;
  document.querySelector('#demo .demo-buttons').replaceChildren(...users.map((u, i) => el('button', {
    type: 'button', class: i === 0 ? 'button primary block' : 'button block', text: `Continue as ${u.name}`,
    dataset: { demoUser: u.id },
    onclick: (e) => signInWith('/sessions/demo', { userId: u.id }, e.currentTarget),
  })));
  $('token-form').hidden = !offers.token;
  document.querySelector('#demo .divider').hidden = !offers.token;
}

function showSignIn(message = '') {
  closeBoard();
  stopFollowing();
  app.me = null;
  show('signin');
  document.title = 'Sign in · Taskboard';
  if (!message && !offers.token && !offers.demo) message = 'This server offers no sign-in on this page.';
  const err = $('signin-error');
  err.textContent = message;
  err.hidden = !message;
  renderSignInOptions();
  (document.querySelector('[data-demo-user]') ?? $('token')).focus();
}

async function signedIn(user) {
  app.me = user;
  $('token').value = '';
  $('me-avatar').replaceChildren(avatar(user, 'sm'));
  $('me-name').textContent = user.name;
  show('workspace');
  await loadBoards();
}

async function signInWith(path, body, button) {
  const err = $('signin-error');
  err.hidden = true;
  button.disabled = true;
  try {
    const res = await request('POST', path, { body, signIn: true, retry: false });
    await signedIn(res.body.user);
  } catch (e) {
    err.textContent = e.status === 401 ? 'That token is not valid. Check it and try again.'
      : e.status === 404 && path === '/sessions/demo' ? 'Demo sign-in is not available on this server.'
        : e.message;
    err.hidden = false;
    if (e.status === 404 && path === '/sessions/demo') $('demo').hidden = true;
  } finally {
    button.disabled = false;
  }
}

async function signOut() {
  closeBoard();
  try {
    await request('DELETE', '/sessions', { retry: false, signIn: true });
  } catch { /* the cookie is cleared or the server is away: signed out either way */ }
  showSignIn();
  toast('Signed out.');
}

// ---- boards ----

function boardFromURL() {
  return new URLSearchParams(location.search).get('board');
}

async function loadBoards(preferred) {
  const body = await get('/boards').catch((e) => {
    if (e.status !== 401) toast(`Couldn't load your boards: ${e.message}`, { kind: 'error' });
    return null;
  });
  if (!body) return;
  app.boards = body.data ?? [];
  renderBoardSelect();
  if (app.boards.length === 0) {
    closeBoard();
    $('no-boards').hidden = false;
    $('board').hidden = true;
    document.querySelector('.boardbar').hidden = true;
    return;
  }
  $('no-boards').hidden = true;
  $('board').hidden = false;
  document.querySelector('.boardbar').hidden = false;
  const has = (id) => id && app.boards.some((b) => b.id === id);
  const id = [preferred, boardFromURL(), localStorage.getItem(LAST_BOARD)].find(has) ?? app.boards[0].id;
  await openBoard(id);
}

function renderBoardSelect() {
  const select = $('board-select');
  select.replaceChildren(...app.boards.map((b) => markOption(el('option', { value: b.id, text: b.name }))));
  if (app.session) select.value = app.session.boardId;
  for (const b of app.boards) app.follower?.add(b.id);
}

// markOption shows in a switcher option how many changes others made to
// its board since the user last had it open.
function markOption(opt) {
  const n = app.unread.get(opt.value) ?? 0;
  opt.dataset.unread = String(n);
  opt.label = n ? `${opt.textContent} • ${n} new` : opt.textContent;
  return opt;
}

function markBoard(boardId) {
  const opt = [...$('board-select').options].find((o) => o.value === boardId);
  if (opt) markOption(opt);
}

// ---- the live connection ----

// follow starts the one connection of the page: every board of the user,
// the open one resuming right after the snapshot it shows. The user counts
// as present on the open board only (presence means viewing it).
function follow(after, presence) {
  if (app.follower) return;
  app.follower = client.follow('*', {
    transports: ['ws', 'sse', 'poll'],
    after,
    presence,
    fetchPresence: false,
    onEvent: onLiveEvent,
    onPresence: (boardId, users) => { if (app.session?.boardId === boardId) app.session.setPresence(users); },
    onReset: onLiveReset,
    onFollowing: ({ boardId }) => { if (!app.boards.some((b) => b.id === boardId)) refreshBoards(); },
    onState: (st) => {
      const s = { status: st.state === 'closed' || st.state === 'idle' ? 'stopped' : st.state, transport: st.transport, retryAt: st.retryAt };
      app.session?.setStatus(s);
      setStatus(s);
      if (s.status === 'live' && s.transport !== 'ws') app.session?.fetchPresence();
    },
  });
  if (app.session) app.session.follower = app.follower;
}

function stopFollowing() {
  app.follower?.close();
  app.follower = null;
  app.unread.clear();
}

function onLiveEvent(ev) {
  const s = app.session;
  if (s && ev.boardId === s.boardId) {
    s.onEvent(ev);
    return;
  }
  if (typeof ev.seq !== 'number') return;
  if (ev.type === 'board_updated' && ev.board) {
    const b = app.boards.find((x) => x.id === ev.boardId);
    if (b) b.name = ev.board.name;
    const opt = [...$('board-select').options].find((o) => o.value === ev.boardId);
    if (opt) opt.textContent = ev.board.name;
  }
  if (!ev.own) app.unread.set(ev.boardId, (app.unread.get(ev.boardId) ?? 0) + 1);
  markBoard(ev.boardId);
}

function onLiveReset(r) {
  const s = app.session;
  if (s && r.boardId === s.boardId) {
    if (!r.stopped) s.reset(r.snapshot);
    else {
      const why = { board_deleted: 'This board was deleted', access_revoked: 'You were removed from this board' };
      boardGone(why[r.reason] ?? 'Board not found');
    }
    return;
  }
  if (r.stopped) {
    app.boards = app.boards.filter((b) => b.id !== r.boardId);
    app.unread.delete(r.boardId);
    renderBoardSelect();
  }
}

// refreshBoards updates the switcher with a board list from the server.
async function refreshBoards() {
  const body = await get('/boards').catch(() => null);
  if (!body || !app.me) return;
  app.boards = body.data ?? [];
  renderBoardSelect();
}

// renderOffline says, while the connection is down, that changes wait.
function renderOffline() {
  const banner = $('offline');
  const down = app.status && (app.status.status === 'reconnecting' || app.status.status === 'offline');
  const n = client.pending;
  const show = Boolean(app.me) && (down || !client.online) && (n > 0 || down);
  banner.hidden = !show;
  if (show) {
    banner.textContent = n ? `Offline — ${n} ${n === 1 ? 'change' : 'changes'} waiting` : 'Offline — changes you make are sent when the connection is back';
  }
  banner.dataset.pending = String(n);
}

function closeBoard() {
  if (editor?.isOpen) editor.dialog.close();
  if ($('members-dialog').open) $('members-dialog').close();
  app.view?.destroy();
  app.session?.close();
  app.view = null;
  app.session = null;
  webhooks?.forBoard(null);
  $('presence').replaceChildren();
  delete $('presence').dataset.key;
}

async function openBoard(boardId) {
  closeBoard();
  const session = new BoardSession(boardId, app.me, {
    changed: () => { if (app.session === session) render(); },
    gone: (message) => { if (app.session === session) boardGone(message); },
  });
  app.session = session;
  if (!app.follower) setStatus({ status: 'connecting', transport: '' });
  try {
    await session.load();
  } catch (e) {
    if (app.session !== session) return;
    if (e instanceof ApiError && e.status === 404) {
      boardGone('Board not found');
    } else if (!(e instanceof ApiError && e.status === 401)) {
      toast(`Couldn't load the board: ${e.message}`, { kind: 'error' });
      setStatus({ status: 'offline', transport: '' });
    }
    return;
  }
  if (app.session !== session) return;
  localStorage.setItem(LAST_BOARD, boardId);
  const url = new URL(location.href);
  url.searchParams.set('board', boardId);
  history.replaceState(null, '', url);
  $('board-select').value = boardId;
  app.view = new BoardView($('board'), session, {
    openTask: (taskId) => editor.open(session, taskId, app.view?.cards.get(taskId)),
  });
  app.unread.delete(boardId);
  markBoard(boardId);
  if (app.follower) {
    // Following already: events up to the snapshot's seq are in it, and
    // those after it come next.
    session.follower = app.follower;
    app.follower.add(boardId, session.server.seq);
    app.follower.setPresence(boardId);
    if (app.status) session.setStatus(app.status);
    if (app.status?.status === 'live') session.fetchPresence();
  } else {
    follow({ [boardId]: session.server.seq }, boardId);
  }
  render();
}

function boardGone(message) {
  toast(message, { kind: 'error' });
  const gone = app.session?.boardId;
  closeBoard();
  app.follower?.setPresence(null);
  if (localStorage.getItem(LAST_BOARD) === gone) localStorage.removeItem(LAST_BOARD);
  const url = new URL(location.href);
  url.searchParams.delete('board');
  history.replaceState(null, '', url);
  app.boards = app.boards.filter((b) => b.id !== gone);
  loadBoards();
}

function render() {
  const s = app.session;
  if (!s || !app.view) return;
  app.view.render();
  const name = s.board.name;
  const title = $('board-title');
  if (title.textContent !== name) title.textContent = name;
  document.title = `${name} · Taskboard`;
  const opt = [...$('board-select').options].find((o) => o.value === s.boardId);
  if (opt && opt.textContent !== name) {
    opt.textContent = name;
    markOption(opt);
  }
  renderPresence(s.viewers());
  // What the user's role allows: a viewer's board says it is read-only;
  // only owners rename it.
  title.disabled = !s.isOwner;
  title.title = s.isOwner ? 'Rename board' : '';
  webhooks.forBoard(s.boardId, s.isOwner);
  $('read-only-note').hidden = s.canEdit;
  $('boardbar-hint').hidden = !s.canEdit;
  if ($('members-dialog').open) renderMembers();
  editor.refresh();
}

const ROLE_NAMES = { owner: 'Owner', editor: 'Editor', viewer: 'Viewer' };

// renderMembers fills the members panel: everyone sees who is on the
// board and may leave it; owners add members, change roles and remove.
function renderMembers() {
  const s = app.session;
  if (!s) return;
  const owner = s.isOwner;
  const members = [...s.view().members].sort((a, b) => a.name.localeCompare(b.name));
  const focused = document.activeElement?.closest?.('[data-member]')?.dataset.member;
  $('members-note').textContent = owner ? 'Owners add members, change roles and remove members.'
    : `You are ${s.role === 'editor' ? 'an editor' : 'a viewer'} of this board. Its owners manage its members.`;
  $('member-form').hidden = !owner;
  $('members-list').replaceChildren(...members.map((u) => {
    const you = u.id === app.me.id;
    const role = u.role ?? 'owner';
    let control;
    if (owner) {
      const select = el('select', { class: 'member-role-select', 'aria-label': `Role of ${u.name}`, dataset: { member: u.id } },
        ...Object.entries(ROLE_NAMES).map(([value, text]) => el('option', { value, text })));
      select.value = role;
      select.addEventListener('change', async () => {
        if (await s.setRole(u.id, select.value) === null) select.value = role;
      });
      control = select;
    } else {
      control = el('span', { class: 'member-role', text: ROLE_NAMES[role] ?? role });
    }
    const remove = owner && !you ? el('button', {
      type: 'button', class: 'button small ghost danger', text: 'Remove', 'aria-label': `Remove ${u.name}`,
      dataset: { member: u.id },
      onclick: async () => {
        const ok = await confirmDialog({ title: `Remove ${u.name}?`, message: `${u.name} will no longer see “${s.board.name}”. Their tasks become unassigned.`, confirm: 'Remove' });
        if (ok && app.session === s) s.removeMember(u.id);
      },
    }) : null;
    return el('li', { class: 'member', dataset: { userId: u.id, role } }, avatar(u, 'sm'),
      el('span', { class: 'member-who' }, el('span', { text: you ? `${u.name} (you)` : u.name }), el('span', { class: 'member-email', text: u.email ?? '' })),
      control, remove);
  }));
  if (focused) document.querySelector(`#members-list [data-member="${CSS.escape(focused)}"]`)?.focus();
}

function openMembers() {
  if (!app.session) return;
  $('member-error').hidden = true;
  $('member-email').value = '';
  renderMembers();
  $('members-dialog').showModal();
}

async function leaveBoard() {
  const s = app.session;
  if (!s) return;
  const ok = await confirmDialog({ title: `Leave “${s.board.name}”?`, message: 'You will no longer see this board unless someone adds you again.', confirm: 'Leave board' });
  if (!ok || app.session !== s) return;
  if (await s.leave() !== null) {
    $('members-dialog').close();
    if (app.session === s) boardGone('You left the board');
  }
}

function renderPresence(users) {
  const max = 5;
  const items = users.slice(0, max).map((u) => {
    const you = u.id === app.me.id;
    const a = avatar(u);
    a.removeAttribute('aria-hidden');
    a.setAttribute('role', 'img');
    a.setAttribute('aria-label', you ? `${u.name} (you)` : u.name);
    a.title = you ? `${u.name} (you)` : `${u.name} is viewing`;
    return el('li', { dataset: { userId: u.id } }, a);
  });
  if (users.length > max) {
    items.push(el('li', {}, el('span', { class: 'avatar avatar-more', title: users.slice(max).map((u) => u.name).join(', '), text: `+${users.length - max}` })));
  }
  const key = users.map((u) => `${u.id}:${u.name}`).join('|');
  const list = $('presence');
  if (list.dataset.key === key) return;
  list.dataset.key = key;
  list.replaceChildren(...items);
  list.setAttribute('aria-label', `Viewing now: ${users.map((u) => u.name).join(', ')}`);
}

function renameBoard() {
  const s = app.session;
  const button = $('board-title');
  if (!s || !s.isOwner) return;
  const input = el('input', {
    class: 'inline-input', value: s.board.name, maxlength: 200, 'aria-label': 'Board name', autocomplete: 'off',
  });
  let done = false;
  const finish = (save) => {
    if (done) return;
    done = true;
    const name = input.value.trim();
    input.replaceWith(button);
    if (save && name && name !== s.board.name && app.session === s) s.renameBoard(name);
    button.focus();
  };
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') { e.preventDefault(); finish(true); }
    if (e.key === 'Escape') { e.preventDefault(); finish(false); }
  });
  input.addEventListener('blur', () => finish(true));
  button.replaceWith(input);
  input.focus();
  input.select();
}

// ---- connection indicator ----

function setStatus(s) {
  app.status = s;
  clearInterval(app.countdown);
  renderOffline();
  const conn = $('conn');
  conn.dataset.status = s.status;
  conn.dataset.transport = s.transport || '';
  const text = () => {
    switch (s.status) {
      case 'live': return `Live · ${TRANSPORT_NAMES[s.transport] ?? s.transport}`;
      case 'reconnecting': {
        const secs = Math.max(1, Math.ceil((s.retryAt - Date.now()) / 1000));
        return `Reconnecting in ${secs}s…`;
      }
      case 'offline': return 'Offline';
      case 'stopped': return 'Not connected';
      default: return 'Connecting…';
    }
  };
  $('conn-text').textContent = text();
  conn.title = s.status === 'reconnecting' ? 'Connection lost. Click to retry now.'
    : s.status === 'live' ? 'Changes from others appear as they happen.' : '';
  conn.disabled = s.status !== 'reconnecting' && s.status !== 'offline';
  if (s.status === 'reconnecting') {
    app.countdown = setInterval(() => { $('conn-text').textContent = text(); }, 1000);
  }
  $('conn-live').textContent = s.status === 'live' ? 'Live' : s.status === 'reconnecting' ? 'Connection lost, reconnecting' : s.status === 'offline' ? 'Offline' : '';
}

// ---- wiring ----

function wire() {
  editor = new TaskEditor();
  webhooks = new Webhooks();
  onUnauthorized(() => {
    if (app.me) showSignIn('Your session has ended. Please sign in again.');
  });

  $('token-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const token = $('token').value.trim();
    if (!token) {
      $('signin-error').textContent = 'Paste an API token first.';
      $('signin-error').hidden = false;
      $('token').focus();
      return;
    }
    signInWith('/sessions', { token }, $('token-submit'));
  });
  $('signout').addEventListener('click', signOut);
  $('board-select').addEventListener('change', (e) => openBoard(e.target.value));
  $('conn').addEventListener('click', () => {
    if (app.status?.status !== 'live') app.follower?.reconnect();
    client.retryNow();
  });
  client.on('status', renderOffline);
  $('board-title').addEventListener('click', renameBoard);
  $('help').addEventListener('click', () => $('help-dialog').showModal());
  $('members-button').addEventListener('click', openMembers);
  $('leave-board').addEventListener('click', leaveBoard);
  for (const b of $('members-dialog').querySelectorAll('[data-close]')) b.addEventListener('click', () => $('members-dialog').close());
  $('member-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const s = app.session;
    const email = $('member-email').value.trim();
    const err = $('member-error');
    if (!email) {
      err.textContent = 'Give the email address of the person to add.';
      err.hidden = false;
      return;
    }
    err.hidden = true;
    const m = await s?.addMember(email, $('member-role').value);
    if (m) {
      $('member-email').value = '';
      toast(`${email} is a member of the board.`);
    }
  });

  const boardDialog = $('board-dialog');
  const openNewBoard = () => {
    $('board-name').value = '';
    $('board-error').hidden = true;
    boardDialog.showModal();
    $('board-name').focus();
  };
  $('new-board').addEventListener('click', openNewBoard);
  $('first-board').addEventListener('click', openNewBoard);
  for (const b of boardDialog.querySelectorAll('[data-close]')) b.addEventListener('click', () => boardDialog.close());
  $('board-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const name = $('board-name').value.trim();
    const err = $('board-error');
    if (!name) {
      err.textContent = 'Give the board a name.';
      err.hidden = false;
      return;
    }
    const submit = e.submitter ?? boardDialog.querySelector('[type=submit]');
    submit.disabled = true;
    try {
      const res = await request('POST', '/boards', { body: { name }, key: newKey() });
      boardDialog.close();
      toast(`Created “${res.body.name}”.`);
      await loadBoards(res.body.id);
    } catch (x) {
      err.textContent = x.message ?? errorMessage(x.body);
      err.hidden = false;
    } finally {
      submit.disabled = false;
    }
  });

  document.addEventListener('keydown', (e) => {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey) return;
    const t = e.target;
    if (t.closest?.('input, textarea, select, [contenteditable], dialog')) return;
    if (!app.view || $('workspace').hidden) return;
    if (e.key === '?') {
      e.preventDefault();
      $('help-dialog').showModal();
    } else if (e.key === 'n' || e.key === 'N') {
      const listId = t.closest?.('.column')?.dataset.listId ?? app.view.model.listOrder[0];
      const col = app.view.columns.get(listId);
      if (col && !col.add.disabled) {
        e.preventDefault();
        app.view.openAddTask(col);
      }
    }
  });
}

async function boot() {
  wire();
  try {
    // Who is signed in and how one signs in, in one request that does not
    // fail for a visitor who is not signed in.
    const state = await get('/sessions', { signIn: true, retry: true });
    offers = state;
    if (state.user) await signedIn(state.user);
    else showSignIn();
  } catch (e) {
    show('loading');
    $('loading-text').textContent = `Can't reach the server (${e.message}). Reload to try again.`;
  }
}

boot();
