// The webhooks of the open board, for those who manage them: the list with
// each webhook's status and latest attempts, pause and resume, delete, and
// a form to add one, whose secret is shown once.

import { ApiError, get, newKey, request } from './api.js';
import { $, confirmDialog, el, errorMessage, toast } from './ui.js';

const ATTEMPTS_SHOWN = 10;

/** Webhooks drives the webhooks dialog of the page. */
export class Webhooks {
  constructor() {
    this.dialog = $('webhooks-dialog');
    this.boardId = null;
    this.open = new Set(); // ids of webhooks whose attempts are shown
    for (const b of this.dialog.querySelectorAll('[data-close]')) b.addEventListener('click', () => this.dialog.close());
    $('webhook-form').addEventListener('submit', (e) => this.add(e));
    $('webhooks-button').addEventListener('click', () => this.show());
  }

  /**
   * forBoard shows the Webhooks button when the user may manage the
   * board's webhooks (owners do), and hides it otherwise. The page knows
   * the user's role from the board's members, so nothing is asked of the
   * server (a probe would fail, and log, for editors and viewers).
   */
  forBoard(boardId, isOwner = false) {
    this.boardId = boardId;
    const button = $('webhooks-button');
    const hidden = !boardId || !isOwner;
    if (button.hidden !== hidden) button.hidden = hidden;
    if (hidden && this.dialog.open) this.dialog.close();
  }

  async show() {
    $('webhook-url').value = '';
    $('webhook-events').value = '';
    $('webhook-description').value = '';
    $('webhook-error').hidden = true;
    $('webhook-secret').hidden = true;
    this.dialog.showModal();
    await this.refresh();
  }

  async refresh() {
    const boardId = this.boardId;
    const list = $('webhook-list');
    let hooks;
    try {
      hooks = (await get(`/boards/${encodeURIComponent(boardId)}/webhooks`)).data;
    } catch (e) {
      list.replaceChildren(el('li', { class: 'form-error', text: `Couldn't load the webhooks: ${e.message}` }));
      return;
    }
    if (boardId !== this.boardId) return;
    if (hooks.length === 0) {
      list.replaceChildren(el('li', { class: 'muted', text: 'No webhooks yet.' }));
      return;
    }
    const items = await Promise.all(hooks.map((h) => this.item(h)));
    list.replaceChildren(...items);
  }

  async item(h) {
    const paused = h.status !== 'active';
    const toggle = el('button', {
      type: 'button', class: 'button small ghost',
      text: paused ? 'Resume' : 'Pause',
      onclick: () => this.patch(h, { status: paused ? 'active' : 'paused' }),
    });
    const attempts = el('button', {
      type: 'button', class: 'button small ghost', 'aria-expanded': String(this.open.has(h.id)),
      text: 'Latest attempts',
      onclick: () => {
        if (this.open.has(h.id)) this.open.delete(h.id); else this.open.add(h.id);
        this.refresh();
      },
    });
    const remove = el('button', { type: 'button', class: 'button small danger ghost', text: 'Delete', onclick: () => this.remove(h) });
    const events = h.events ? h.events.join(', ') : 'all events';
    const item = el('li', { class: 'webhook', dataset: { webhookId: h.id } },
      el('div', { class: 'webhook-head' },
        el('span', { class: `webhook-status webhook-${h.status}`, text: h.status }),
        el('span', { class: 'webhook-url', text: h.url })),
      el('p', { class: 'hint', text: h.description ? `${h.description} · ${events}` : events }),
      el('div', { class: 'webhook-actions' }, toggle, attempts, remove));
    if (this.open.has(h.id)) item.append(await this.attempts(h));
    return item;
  }

  async attempts(h) {
    try {
      const res = await get(`/webhooks/${encodeURIComponent(h.id)}/deliveries?limit=${ATTEMPTS_SHOWN}`);
      if (res.data.length === 0) return el('p', { class: 'hint', text: 'No attempts yet.' });
      return el('ol', { class: 'webhook-attempts' }, ...res.data.map((a) => el('li', {
        class: a.error ? 'attempt-failed' : 'attempt-ok',
        text: `${new Date(a.at).toLocaleTimeString()} · event ${a.seq}` +
          (a.attempt > 1 ? ` (attempt ${a.attempt})` : '') +
          ` · ${a.error ?? `answered ${a.status_code}`} · ${a.duration_ms} ms`,
      })));
    } catch (e) {
      return el('p', { class: 'form-error', text: `Couldn't load the attempts: ${e.message}` });
    }
  }

  async patch(h, body) {
    try {
      await request('PATCH', `/webhooks/${encodeURIComponent(h.id)}`, { body, key: newKey() });
    } catch (e) {
      toast(`Couldn't change the webhook: ${e.message}`, { kind: 'error' });
    }
    await this.refresh();
  }

  async remove(h) {
    const ok = await confirmDialog({ title: 'Delete webhook?', message: `Deliveries to ${h.url} stop, and its attempts are deleted.` });
    if (!ok) return;
    try {
      await request('DELETE', `/webhooks/${encodeURIComponent(h.id)}`, { key: newKey() });
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 404)) toast(`Couldn't delete the webhook: ${e.message}`, { kind: 'error' });
    }
    await this.refresh();
  }

  async add(e) {
    e.preventDefault();
    const err = $('webhook-error');
    const url = $('webhook-url').value.trim();
    const typed = $('webhook-events').value.split(/[\s,]+/u).filter(Boolean);
    const description = $('webhook-description').value.trim();
    if (!url) {
      err.textContent = 'Give the URL that receives the events.';
      err.hidden = false;
      return;
    }
    const body = { url, description };
    if (typed.length > 0) body.events = typed;
    const submit = e.submitter ?? $('webhook-form').querySelector('[type=submit]');
    submit.disabled = true;
    try {
      const res = await request('POST', `/boards/${encodeURIComponent(this.boardId)}/webhooks`, { body, key: newKey() });
      err.hidden = true;
      $('webhook-url').value = '';
      $('webhook-events').value = '';
      $('webhook-description').value = '';
      $('webhook-secret-value').value = res.body.secret;
      $('webhook-secret').hidden = false;
      $('webhook-secret-value').select();
      await this.refresh();
    } catch (x) {
      err.textContent = x.body ? errorMessage(x.body) : x.message;
      err.hidden = false;
    } finally {
      submit.disabled = false;
    }
  }
}
