// Moving cards: HTML5 drag and drop with the mouse, and the same with the
// keyboard. Keyboard: focus a card, Space picks it up, the arrow keys move
// it (up and down in its list, left and right across lists), Enter or Space
// drops it and Escape puts it back. Alt with an arrow key moves a card one
// step at once. Either way the move ends as PATCH /tasks/{id}/move with
// the target list and position.

import { locate } from './state.js';
import { announce, el } from './ui.js';

/** attachMoves wires moves into a BoardView; it returns {destroy}. */
export function attachMoves(view) {
  const root = view.root;
  const session = view.session;
  let drag = null; // {taskId, card, target: {listId, index}}
  let grab = null; // {taskId, origin: {listId, index}}
  const placeholder = el('li', { class: 'drop-placeholder', 'aria-hidden': 'true' });

  const listName = (v, id) => v.lists.get(id)?.name ?? 'list';
  const where = (v, taskId) => {
    const at = locate(v, taskId);
    if (!at) return '';
    const n = (v.order.get(at.listId) ?? []).length;
    return `${listName(v, at.listId)}, position ${at.index + 1} of ${n}`;
  };

  // ---- mouse: HTML5 drag and drop ----

  function onDragStart(e) {
    const card = e.target.closest?.('.card');
    if (!card || card.classList.contains('pending') || grab || !session.canEdit) {
      if (card) e.preventDefault();
      return;
    }
    drag = { taskId: card.dataset.taskId, card, target: null };
    placeholder.style.height = `${card.offsetHeight}px`;
    e.dataTransfer.effectAllowed = 'move';
    e.dataTransfer.setData('text/plain', card.querySelector('.card-title')?.textContent ?? '');
    e.dataTransfer.setData('application/x-taskboard-task', drag.taskId);
    requestAnimationFrame(() => card.classList.add('dragging'));
    root.classList.add('is-dragging');
  }

  // dropIndex returns where a card dropped at y lands in a column: the
  // count of other cards whose middle is above y.
  function dropIndex(cards, y) {
    let i = 0;
    for (const c of cards) {
      const r = c.getBoundingClientRect();
      if (r.top + r.height / 2 < y) i++;
    }
    return i;
  }

  function onDragOver(e) {
    if (!drag) return;
    const column = e.target.closest?.('.column[data-list-id]');
    if (!column) return;
    const col = view.columns.get(column.dataset.listId);
    if (!col || col.root.classList.contains('pending')) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = 'move';
    const others = [...col.cards.querySelectorAll('.card')].filter((c) => c !== drag.card);
    const index = dropIndex(others, e.clientY);
    drag.target = { listId: col.listId, index };
    const before = others[index] ?? null;
    if (placeholder.parentNode !== col.cards || placeholder.nextElementSibling !== before) {
      col.cards.insertBefore(placeholder, before);
    }
    for (const c of root.querySelectorAll('.column.drop-target')) if (c !== col.root) c.classList.remove('drop-target');
    col.root.classList.add('drop-target');
  }

  function onDrop(e) {
    if (!drag) return;
    e.preventDefault();
    const { taskId, target } = drag;
    endDrag();
    if (target) {
      session.moveTask(taskId, target.listId, target.index);
      const v = session.view();
      announce(`Moved to ${where(v, taskId)}`);
    }
  }

  function endDrag() {
    if (!drag) return;
    drag.card.classList.remove('dragging');
    drag = null;
    placeholder.remove();
    root.classList.remove('is-dragging');
    for (const c of root.querySelectorAll('.column.drop-target')) c.classList.remove('drop-target');
  }

  function onDragLeave(e) {
    // Leaving the board altogether hides the placeholder.
    if (drag && !root.contains(e.relatedTarget)) {
      placeholder.remove();
      drag.target = null;
      for (const c of root.querySelectorAll('.column.drop-target')) c.classList.remove('drop-target');
    }
  }

  // ---- keyboard ----

  function focusCard(taskId) {
    view.cards.get(taskId)?.focus();
    view.cards.get(taskId)?.scrollIntoView({ block: 'nearest', inline: 'nearest' });
  }

  function pickUp(taskId) {
    if (!session.canEdit) return;
    const v = session.view();
    const at = locate(v, taskId);
    if (!at) return;
    grab = { taskId, origin: at };
    session.preview = { taskId, listId: at.listId, index: at.index };
    view.cards.get(taskId)?.classList.add('grabbed');
    root.classList.add('is-grabbing');
    announce(`Picked up ${v.tasks.get(taskId).title}. ${where(v, taskId)}. ` +
      'Use the arrow keys to move it, Enter to drop it, Escape to cancel.');
  }

  function endGrab() {
    if (!grab) return;
    view.cards.get(grab.taskId)?.classList.remove('grabbed');
    root.classList.remove('is-grabbing');
    grab = null;
    session.preview = null;
  }

  function step(taskId, dx, dy, v) {
    const at = locate(v, taskId);
    if (!at) return null;
    if (dy) {
      const n = (v.order.get(at.listId) ?? []).length;
      const index = Math.max(0, Math.min(n - 1, at.index + dy));
      return { listId: at.listId, index };
    }
    const li = v.listOrder.indexOf(at.listId) + dx;
    if (li < 0 || li >= v.listOrder.length) return null;
    const listId = v.listOrder[li];
    if (v.lists.get(listId)?.pending) return null;
    const n = (v.order.get(listId) ?? []).length;
    return { listId, index: Math.min(at.index, n) };
  }

  const ARROWS = { ArrowUp: [0, -1], ArrowDown: [0, 1], ArrowLeft: [-1, 0], ArrowRight: [1, 0] };

  function onKeyDown(e) {
    const card = e.target.closest?.('.card');
    if (!card || e.target !== card) return;
    const taskId = card.dataset.taskId;
    if (grab && grab.taskId === taskId) {
      const arrow = ARROWS[e.key];
      if (arrow) {
        e.preventDefault();
        const to = step(taskId, arrow[0], arrow[1], session.view());
        if (to) {
          session.preview = { taskId, ...to };
          view.render();
          focusCard(taskId);
          announce(where(session.view(), taskId));
        }
        return;
      }
      if (e.key === 'Enter' || e.key === ' ') {
        e.preventDefault();
        const to = session.preview;
        const title = session.view().tasks.get(taskId)?.title ?? 'Task';
        endGrab();
        session.moveTask(taskId, to.listId, to.index);
        view.render();
        focusCard(taskId);
        announce(`Dropped ${title}. ${where(session.view(), taskId)}.`);
        return;
      }
      if (e.key === 'Escape') {
        e.preventDefault();
        e.stopPropagation();
        endGrab();
        view.render();
        focusCard(taskId);
        announce(`Move cancelled. ${where(session.view(), taskId)}.`);
        return;
      }
      if (e.key === 'Tab') {
        endGrab();
        view.render();
      }
      return;
    }
    if (card.classList.contains('pending')) return;
    if (e.key === ' ' && !e.altKey && !e.ctrlKey && !e.metaKey) {
      e.preventDefault();
      pickUp(taskId);
      return;
    }
    if (e.key === 'Enter') {
      e.preventDefault();
      view.openTask(taskId);
      return;
    }
    const arrow = ARROWS[e.key];
    if (arrow && e.altKey && session.canEdit) {
      e.preventDefault();
      const to = step(taskId, arrow[0], arrow[1], session.view());
      if (to) {
        session.moveTask(taskId, to.listId, to.index);
        view.render();
        focusCard(taskId);
        announce(`Moved to ${where(session.view(), taskId)}`);
      }
      return;
    }
    if (arrow && !e.shiftKey && !e.ctrlKey && !e.metaKey) {
      // Plain arrows walk between cards.
      e.preventDefault();
      const v = session.view();
      const at = locate(v, taskId);
      if (!at) return;
      let target = null;
      if (arrow[1]) target = (v.order.get(at.listId) ?? [])[at.index + arrow[1]];
      else {
        for (let li = v.listOrder.indexOf(at.listId) + arrow[0]; li >= 0 && li < v.listOrder.length && !target; li += arrow[0]) {
          const ids = v.order.get(v.listOrder[li]) ?? [];
          target = ids[Math.min(at.index, ids.length - 1)];
        }
      }
      if (target) focusCard(target);
    }
  }

  function onFocusOut(e) {
    if (!grab) return;
    const card = e.target.closest?.('.card');
    if (!card || card.dataset.taskId !== grab.taskId) return;
    // Re-rendering moves the card and may blur it for a moment.
    setTimeout(() => {
      if (grab && document.activeElement !== view.cards.get(grab.taskId)) {
        endGrab();
        view.render();
      }
    }, 0);
  }

  root.addEventListener('dragstart', onDragStart);
  root.addEventListener('dragover', onDragOver);
  root.addEventListener('drop', onDrop);
  root.addEventListener('dragend', endDrag);
  root.addEventListener('dragleave', onDragLeave);
  root.addEventListener('keydown', onKeyDown);
  root.addEventListener('focusout', onFocusOut);
  return {
    destroy() {
      endDrag();
      endGrab();
      root.removeEventListener('dragstart', onDragStart);
      root.removeEventListener('dragover', onDragOver);
      root.removeEventListener('drop', onDrop);
      root.removeEventListener('dragend', endDrag);
      root.removeEventListener('dragleave', onDragLeave);
      root.removeEventListener('keydown', onKeyDown);
      root.removeEventListener('focusout', onFocusOut);
    },
    /** grabbing is the task id being moved with the keyboard, or null. */
    get grabbing() {
      return grab?.taskId ?? null;
    },
  };
}
