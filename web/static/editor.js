// The task editor: a modal dialog for a task's title, description,
// assignee and list, with delete. While the user types in it the others
// see "… is typing" on the card; the dialog shows who else is editing.

import { typingText } from './view.js';
import { $, confirmDialog, el } from './ui.js';

/** TaskEditor edits one task at a time in #task-dialog. */
export class TaskEditor {
  constructor() {
    this.dialog = $('task-dialog');
    this.form = $('task-form');
    this.title = $('task-title');
    this.desc = $('task-description');
    this.assignee = $('task-assignee');
    this.list = $('task-list');
    this.typingNote = $('task-typing');
    this.session = null;
    this.taskId = null;

    const typed = () => this.session?.typingOn(this.taskId);
    this.title.addEventListener('input', typed);
    this.desc.addEventListener('input', typed);
    for (const f of [this.title, this.desc]) {
      f.addEventListener('blur', (e) => {
        if (e.relatedTarget !== this.title && e.relatedTarget !== this.desc) this.session?.stopTyping();
      });
    }
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.save();
    });
    for (const b of this.dialog.querySelectorAll('[data-close]')) {
      b.addEventListener('click', () => this.dialog.close());
    }
    $('task-delete').addEventListener('click', () => this.remove());
    this.dialog.addEventListener('close', () => {
      this.session?.stopTyping();
      this.taskId = null;
      this.returnFocus?.focus();
    });
  }

  /** open opens the editor on a task of a session. */
  open(session, taskId, returnFocus) {
    const v = session.view();
    const task = v.tasks.get(taskId);
    if (!task || task.pending) return;
    this.session = session;
    this.taskId = taskId;
    this.original = task;
    this.returnFocus = returnFocus;
    this.title.value = task.title;
    this.desc.value = task.description ?? '';
    this.assignee.replaceChildren(el('option', { value: '', text: 'Unassigned' }),
      ...v.members.map((u) => el('option', { value: u.id, text: u.name })));
    this.assignee.value = task.assignee_id ?? '';
    this.list.replaceChildren(...v.listOrder.map((id) => el('option', { value: id, text: v.lists.get(id).name })));
    this.list.value = task.list_id;
    // A viewer sees the task but cannot change it.
    this.readOnly = !session.canEdit;
    this.title.readOnly = this.readOnly;
    this.desc.readOnly = this.readOnly;
    this.assignee.disabled = this.readOnly;
    this.list.disabled = this.readOnly;
    $('task-delete').hidden = this.readOnly;
    this.form.querySelector('[type=submit]').hidden = this.readOnly;
    $('task-dialog-title').textContent = this.readOnly ? 'Task' : 'Edit task';
    this.refresh();
    this.dialog.showModal();
    this.title.focus();
    this.title.select();
  }

  /** refresh follows changes while open: who is typing, a deleted task. */
  refresh() {
    if (!this.taskId || !this.session) return;
    const v = this.session.view();
    if (!v.tasks.has(this.taskId)) {
      this.dialog.close();
      return;
    }
    const names = this.session.typers(this.taskId);
    this.typingNote.hidden = names.length === 0;
    this.typingNote.textContent = names.length ? `${typingText(names)} Your changes may overlap.` : '';
  }

  /** isOpen reports whether the editor is open. */
  get isOpen() {
    return this.dialog.open;
  }

  save() {
    if (this.readOnly) {
      this.dialog.close();
      return;
    }
    const s = this.session;
    const id = this.taskId;
    const t = this.original;
    const title = this.title.value.trim();
    if (!title) {
      this.title.setCustomValidity('A task needs a title');
      this.title.reportValidity();
      this.title.addEventListener('input', () => this.title.setCustomValidity(''), { once: true });
      return;
    }
    const fields = {};
    if (title !== t.title) fields.title = title;
    const desc = this.desc.value.trim();
    if (desc !== (t.description ?? '')) fields.description = desc === '' ? null : desc;
    const assignee = this.assignee.value || null;
    if (assignee !== (t.assignee_id ?? null)) fields.assigneeId = assignee;
    const listId = this.list.value;
    s.stopTyping();
    this.dialog.close();
    // Text edits must not silently overwrite someone else's: they apply
    // only to the version the editor opened.
    const guarded = 'title' in fields || 'description' in fields;
    if (Object.keys(fields).length) s.updateTask(id, fields, guarded ? t.version : 0);
    if (listId && listId !== t.list_id) {
      s.moveTask(id, listId, (s.view().order.get(listId) ?? []).length);
    }
  }

  async remove() {
    const s = this.session;
    const id = this.taskId;
    const title = this.title.value.trim() || this.original.title;
    const ok = await confirmDialog({ title: 'Delete this task?', message: `“${title}” will be deleted for everyone.`, confirm: 'Delete task' });
    if (!ok) return;
    this.dialog.close();
    s.deleteTask(id);
  }
}
