// BoardView draws a BoardSession's view as columns of cards and turns
// clicks, drags and keys into the session's changes. Elements are kept by
// list and task id and only updated and reordered, so that focus, open
// forms and scroll positions survive live updates.

import { attachMoves } from './moves.js';
import { avatar, confirmDialog, el } from './ui.js';

let uid = 0;

export class BoardView {
  /** root is the board element; openTask(taskId) opens the task editor. */
  constructor(root, session, { openTask }) {
    this.root = root;
    this.session = session;
    this.openTask = openTask;
    this.columns = new Map(); // list id → column parts
    this.cards = new Map(); // task id → card element
    this.root.replaceChildren();
    this.addColumn = this.buildAddColumn();
    this.root.append(this.addColumn);
    this.moves = attachMoves(this);
  }

  /** destroy removes the view's listeners and elements. */
  destroy() {
    this.moves.destroy();
    this.root.replaceChildren();
  }

  /** render brings the DOM up to date with the session's view. */
  render() {
    const v = this.session.view();
    this.model = v;
    const active = document.activeElement;
    const focused = active?.closest?.('.card')?.dataset.taskId;
    const members = new Map(v.members.map((u) => [u.id, u]));
    // A viewer sees the board as it is: no adding, editing or moving.
    this.readOnly = !this.session.canEdit;
    this.root.classList.toggle('read-only', this.readOnly);
    this.addColumn.hidden = this.readOnly;
    const seenLists = new Set();
    const seenTasks = new Set();
    let prev = null;
    v.listOrder.forEach((listId, li) => {
      const list = v.lists.get(listId);
      const col = this.columns.get(listId) ?? this.buildColumn(listId);
      seenLists.add(listId);
      this.updateColumn(col, list, v, li);
      // Cards in order.
      const ids = v.order.get(listId) ?? [];
      let cursor = col.cards.firstElementChild;
      for (const taskId of ids) {
        const task = v.tasks.get(taskId);
        seenTasks.add(taskId);
        const card = this.cards.get(taskId) ?? this.buildCard(taskId);
        this.updateCard(card, task, members);
        while (cursor && !cursor.classList.contains('card')) cursor = cursor.nextElementSibling;
        if (cursor !== card) col.cards.insertBefore(card, cursor);
        else cursor = cursor.nextElementSibling;
      }
      col.empty.hidden = ids.length > 0;
      // Columns in order, before the "add list" column.
      const want = prev ? prev.nextElementSibling : this.root.firstElementChild;
      if (want !== col.root) this.root.insertBefore(col.root, want);
      prev = col.root;
    });
    for (const [id, card] of this.cards) {
      if (!seenTasks.has(id)) {
        card.remove();
        this.cards.delete(id);
      }
    }
    for (const [id, col] of this.columns) {
      if (!seenLists.has(id)) {
        col.root.remove();
        this.columns.delete(id);
      }
    }
    // Removed strays: cards that belong to no list any more.
    for (const col of this.columns.values()) {
      for (const c of [...col.cards.children]) {
        if (c.classList.contains('card') && !this.cards.has(c.dataset.taskId)) c.remove();
      }
    }
    if (this.addColumn !== this.root.lastElementChild) this.root.append(this.addColumn);
    // Moving an element in the document drops its focus: give it back.
    if (!document.activeElement || document.activeElement === document.body) {
      if (focused) this.cards.get(focused)?.focus();
      else if (active?.isConnected && active !== document.body) active.focus();
    }
  }

  // ---- columns ----

  buildColumn(listId) {
    const id = `col-${++uid}`;
    const title = el('button', { class: 'column-title', type: 'button', title: 'Rename list' });
    const count = el('span', { class: 'column-count' });
    const menu = el('button', {
      class: 'icon-button column-menu', type: 'button', 'aria-haspopup': 'menu', text: '⋯',
    });
    const cards = el('ol', { class: 'cards' });
    const empty = el('p', { class: 'column-empty', text: 'No tasks yet' });
    const add = el('button', { class: 'add-task', type: 'button' }, el('span', { 'aria-hidden': 'true', text: '+' }), ' Add a task');
    const foot = el('div', { class: 'column-foot' }, add);
    const heading = el('h2', { class: 'column-name', id }, title);
    const root = el('section', { class: 'column', 'aria-labelledby': id, dataset: { listId } },
      el('header', { class: 'column-head' }, heading, count, menu), empty, cards, foot);
    const col = { root, heading, title, count, menu, cards, empty, foot, add, listId, renaming: false };
    title.addEventListener('click', () => this.startRename(col));
    menu.addEventListener('click', () => this.openListMenu(col));
    add.addEventListener('click', () => this.openAddTask(col));
    this.columns.set(listId, col);
    return col;
  }

  updateColumn(col, list, v, index) {
    const n = (v.order.get(list.id) ?? []).length;
    if (!col.renaming && col.title.textContent !== list.name) col.title.textContent = list.name;
    col.count.textContent = String(n);
    col.count.setAttribute('aria-label', `${n} ${n === 1 ? 'task' : 'tasks'}`);
    col.menu.setAttribute('aria-label', `Actions for list ${list.name}`);
    col.cards.setAttribute('aria-label', `Tasks in ${list.name}`);
    col.root.classList.toggle('pending', Boolean(list.pending));
    col.add.disabled = Boolean(list.pending) || this.readOnly;
    col.menu.disabled = Boolean(list.pending);
    col.foot.hidden = this.readOnly;
    col.menu.hidden = this.readOnly;
    col.title.disabled = this.readOnly;
    col.title.title = this.readOnly ? '' : 'Rename list';
    col.index = index;
  }

  startRename(col) {
    const list = this.model.lists.get(col.listId);
    if (!list || list.pending || col.renaming || this.readOnly) return;
    col.renaming = true;
    const input = el('input', {
      class: 'inline-input', value: list.name, maxlength: 200, 'aria-label': 'List name', autocomplete: 'off',
    });
    let done = false;
    const finish = (save) => {
      if (done) return;
      done = true;
      const name = input.value.trim();
      col.renaming = false;
      input.replaceWith(col.title);
      if (save && name && name !== list.name) {
        col.title.textContent = name;
        this.session.renameList(col.listId, name);
      }
      col.title.focus();
    };
    input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') { e.preventDefault(); finish(true); }
      if (e.key === 'Escape') { e.preventDefault(); e.stopPropagation(); finish(false); }
    });
    input.addEventListener('blur', () => finish(true));
    col.title.replaceWith(input);
    input.focus();
    input.select();
  }

  openListMenu(col) {
    const menu = document.getElementById('list-menu');
    const list = this.model.lists.get(col.listId);
    if (!list) return;
    const last = this.model.listOrder.length - 1;
    const item = (label, fn, { disabled = false, danger = false } = {}) => el('button', {
      type: 'button', role: 'menuitem', class: `menu-item${danger ? ' danger' : ''}`, disabled,
      onclick: () => { hide(); fn(); },
    }, label);
    const hide = () => { if (menu.matches(':popover-open')) menu.hidePopover(); };
    menu.replaceChildren(
      item('Rename', () => this.startRename(col)),
      item('Move left', () => this.session.moveList(col.listId, col.index - 1), { disabled: col.index === 0 }),
      item('Move right', () => this.session.moveList(col.listId, col.index + 1), { disabled: col.index === last }),
      el('hr', { class: 'menu-sep' }),
      item('Delete list…', () => this.confirmDeleteList(col.listId), { danger: true }),
    );
    menu.setAttribute('aria-label', `Actions for list ${list.name}`);
    hide();
    menu.showPopover();
    const r = col.menu.getBoundingClientRect();
    const w = menu.offsetWidth;
    menu.style.top = `${Math.round(r.bottom + 4)}px`;
    menu.style.left = `${Math.round(Math.max(8, Math.min(r.right - w, window.innerWidth - w - 8)))}px`;
    menu.querySelector('button:not([disabled])')?.focus();
    menu.onkeydown = (e) => {
      const items = [...menu.querySelectorAll('button:not([disabled])')];
      const i = items.indexOf(document.activeElement);
      if (e.key === 'ArrowDown') { e.preventDefault(); items[(i + 1) % items.length]?.focus(); }
      if (e.key === 'ArrowUp') { e.preventDefault(); items[(i - 1 + items.length) % items.length]?.focus(); }
    };
    menu.ontoggle = (e) => {
      // Closing the menu (Escape, a choice, a click elsewhere) gives the
      // focus back to its button unless the choice moved it on.
      if (e.newState === 'closed' && (menu.contains(document.activeElement) || document.activeElement === document.body)) {
        col.menu.focus();
      }
    };
  }

  async confirmDeleteList(listId) {
    const list = this.model.lists.get(listId);
    if (!list) return;
    const n = (this.model.order.get(listId) ?? []).length;
    const ok = await confirmDialog({
      title: `Delete “${list.name}”?`,
      message: n ? `Its ${n} ${n === 1 ? 'task goes' : 'tasks go'} with it. This cannot be undone.` : 'This cannot be undone.',
      confirm: 'Delete list',
    });
    if (ok) this.session.deleteList(listId);
  }

  openAddTask(col) {
    if (this.readOnly) return;
    if (col.foot.querySelector('form')) {
      col.foot.querySelector('textarea').focus();
      return;
    }
    const input = el('textarea', {
      class: 'inline-input', rows: 2, maxlength: 500, placeholder: 'Task title', 'aria-label': 'New task title',
    });
    const form = el('form', { class: 'inline-form' }, input,
      el('div', { class: 'inline-actions' },
        el('button', { class: 'button primary small', type: 'submit', text: 'Add task' }),
        el('button', { class: 'button ghost small', type: 'button', text: 'Cancel', onclick: () => close() })));
    const close = () => {
      form.remove();
      col.add.hidden = false;
      col.add.focus();
    };
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const title = input.value.trim();
      if (!title) return;
      input.value = '';
      this.session.createTask(col.listId, title);
      input.focus();
      requestAnimationFrame(() => { col.cards.lastElementChild?.scrollIntoView({ block: 'nearest' }); });
    });
    input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); form.requestSubmit(); }
      if (e.key === 'Escape') { e.preventDefault(); close(); }
    });
    col.add.hidden = true;
    col.foot.append(form);
    input.focus();
  }

  buildAddColumn() {
    const button = el('button', { class: 'add-list', type: 'button' },
      el('span', { 'aria-hidden': 'true', text: '+' }), ' Add a list');
    const root = el('section', { class: 'column column-new', 'aria-label': 'New list' }, button);
    button.addEventListener('click', () => {
      const input = el('input', {
        class: 'inline-input', maxlength: 200, placeholder: 'List name', 'aria-label': 'New list name', autocomplete: 'off',
      });
      const form = el('form', { class: 'inline-form' }, input,
        el('div', { class: 'inline-actions' },
          el('button', { class: 'button primary small', type: 'submit', text: 'Add list' }),
          el('button', { class: 'button ghost small', type: 'button', text: 'Cancel', onclick: () => close() })));
      const close = () => {
        form.remove();
        button.hidden = false;
        button.focus();
      };
      form.addEventListener('submit', (e) => {
        e.preventDefault();
        const name = input.value.trim();
        if (!name) return;
        input.value = '';
        this.session.createList(name);
        input.focus();
      });
      input.addEventListener('keydown', (e) => {
        if (e.key === 'Escape') { e.preventDefault(); close(); }
      });
      button.hidden = true;
      root.append(form);
      input.focus();
    });
    return root;
  }

  // ---- cards ----

  buildCard(taskId) {
    const title = el('p', { class: 'card-title' });
    const desc = el('p', { class: 'card-desc' });
    const foot = el('div', { class: 'card-foot' });
    const typing = el('p', { class: 'card-typing', hidden: true, 'aria-live': 'polite' });
    const card = el('li', {
      class: 'card', tabindex: 0, draggable: 'true', 'aria-describedby': 'card-help', dataset: { taskId },
    }, title, desc, foot, typing);
    card.parts = { title, desc, foot, typing };
    card.addEventListener('click', () => {
      if (!card.classList.contains('pending')) this.openTask(taskId);
    });
    this.cards.set(taskId, card);
    return card;
  }

  updateCard(card, task, members) {
    const assignee = task.assignee_id ? members.get(task.assignee_id) ?? { id: task.assignee_id, name: 'Unknown' } : null;
    const typers = this.session.typers(task.id);
    const key = JSON.stringify([task.title, task.description, assignee?.id, assignee?.name, typers, Boolean(task.pending), this.readOnly]);
    if (card.renderKey === key) return;
    card.renderKey = key;
    const { title, desc, foot, typing } = card.parts;
    title.textContent = task.title;
    const d = (task.description ?? '').trim();
    desc.textContent = d;
    desc.hidden = !d;
    if (assignee) {
      foot.replaceChildren(el('span', { class: 'assignee' }, avatar(assignee, 'sm'),
        el('span', { class: 'assignee-name', text: assignee.name })));
    } else {
      foot.replaceChildren(el('span', { class: 'assignee unassigned', text: 'Unassigned' }));
    }
    if (typers.length) {
      typing.replaceChildren(el('span', { class: 'typing-dots', 'aria-hidden': 'true' }, el('i'), el('i'), el('i')),
        ` ${typingText(typers)}`);
    }
    typing.hidden = typers.length === 0;
    card.classList.toggle('pending', Boolean(task.pending));
    card.classList.toggle('is-typing', typers.length > 0);
    card.draggable = !task.pending && !this.readOnly;
    card.setAttribute('aria-busy', task.pending ? 'true' : 'false');
    card.setAttribute('aria-label', [
      task.title,
      assignee ? `assigned to ${assignee.name}` : 'unassigned',
      typers.length ? typingText(typers) : '',
    ].filter(Boolean).join(', '));
  }
}

/** typingText is "Bob is typing…" for one or more names. */
export function typingText(names) {
  if (names.length === 1) return `${names[0]} is typing…`;
  if (names.length === 2) return `${names[0]} and ${names[1]} are typing…`;
  return `${names.length} people are typing…`;
}
