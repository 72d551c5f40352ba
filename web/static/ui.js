// DOM helpers shared by the page: element building (text only, never
// markup), avatars, toasts, announcements for screen readers and dialogs.

/**
 * el builds an element. Attributes named on* become listeners, "class"
 * sets the class name, "text" the text content; children are nodes or
 * strings, and strings always become text nodes.
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else if (k === 'dataset') Object.assign(node.dataset, v);
    else if (k.startsWith('on') && typeof v === 'function') node.addEventListener(k.slice(2), v);
    else if (v === true) node.setAttribute(k, '');
    else node.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c != null && c !== false) node.append(c);
  }
  return node;
}

/** $ returns the element with the given id. */
export const $ = (id) => document.getElementById(id);

/** initials returns up to two initials of a name. */
export function initials(name) {
  const words = String(name || '?').trim().split(/\s+/u).filter(Boolean);
  if (words.length === 0) return '?';
  const first = [...words[0]][0] ?? '?';
  const last = words.length > 1 ? ([...words[words.length - 1]][0] ?? '') : '';
  return (first + last).toUpperCase();
}

// Avatar colours: muted, each dark enough for white initials.
const AVATAR_COLOURS = ['#4f46e5', '#0369a1', '#7c3aed', '#c2410c', '#be185d', '#15803d', '#0f766e', '#475569'];

/** colourOf returns the avatar colour of a user id. */
export function colourOf(id) {
  let h = 0;
  for (const ch of String(id)) h = (h * 31 + ch.codePointAt(0)) >>> 0;
  return AVATAR_COLOURS[h % AVATAR_COLOURS.length];
}

/** avatar returns a coloured circle with the user's initials. */
export function avatar(user, size = '') {
  const node = el('span', {
    class: `avatar${size ? ` avatar-${size}` : ''}`,
    title: user.name,
    'aria-hidden': 'true',
    text: initials(user.name),
  });
  node.style.backgroundColor = colourOf(user.id);
  return node;
}

/** toast shows a short message; kind "error" is announced at once. */
export function toast(message, { kind = 'info', timeout = 5000 } = {}) {
  const box = $('toasts');
  const close = el('button', { class: 'toast-close', type: 'button', 'aria-label': 'Dismiss', text: '×' });
  const item = el('div', { class: `toast toast-${kind}`, role: kind === 'error' ? 'alert' : 'status' },
    el('span', { class: 'toast-text', text: message }), close);
  const remove = () => item.remove();
  close.addEventListener('click', remove);
  box.append(item);
  while (box.children.length > 4) box.firstElementChild.remove();
  if (timeout > 0) setTimeout(remove, timeout);
  return item;
}

/** announce tells screen readers about something that happened. */
export function announce(message) {
  const node = $('announcer');
  node.textContent = '';
  // A fresh text node makes screen readers repeat identical messages.
  requestAnimationFrame(() => { node.textContent = message; });
}

/**
 * confirmDialog asks a yes/no question in the page's confirm dialog and
 * resolves to the answer. Escape or Cancel answer no.
 */
export function confirmDialog({ title, message, confirm = 'Delete' }) {
  const dialog = $('confirm-dialog');
  $('confirm-title').textContent = title;
  $('confirm-message').textContent = message;
  $('confirm-ok').textContent = confirm;
  return new Promise((resolve) => {
    dialog.returnValue = '';
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
    dialog.showModal();
    $('confirm-cancel').focus();
  });
}

/** errorMessage turns an API error body into one readable line. */
export function errorMessage(body, fallback = 'Something went wrong') {
  const e = body?.error;
  if (typeof e === 'string') return e;
  if (Array.isArray(e)) {
    return e.map((f) => `${(f.path ?? []).join('.') || 'value'}: ${f.message}`).join('; ');
  }
  return fallback;
}
