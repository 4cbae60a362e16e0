// Sign in: the management key, checked against the server before it is kept.

import { api, isRemembered, setKey } from '../api.js';
import { field, h } from '../dom.js';

/** The login form; `ctx.done()` is called once the server accepted the key. */
export function render(main, ctx) {
  const key = h('input', { type: 'password', name: 'key', autocomplete: 'current-password', required: true });
  const remember = h('input', { type: 'checkbox', name: 'remember', checked: isRemembered() });
  const status = h('p', { class: 'form-status', role: 'status', 'aria-live': 'polite' }, ctx.notice || '');
  const submit = h('button', { type: 'submit', class: 'btn primary' }, 'Sign in');
  const form = h('form', { class: 'card login', novalidate: true },
    h('h1', {}, 'aiproxyapi'),
    h('p', { class: 'muted' }, 'Control panel. Sign in with the management key (remote-management.secret-key or MANAGEMENT_PASSWORD).'),
    // Password managers pair a password with a user name; the management key has none.
    h('input', { type: 'text', name: 'username', autocomplete: 'username', value: 'management', hidden: true }),
    field('Management key', key),
    h('label', { class: 'check' }, remember, 'Remember on this browser'),
    submit, status);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const value = key.value.trim();
    if (!value) {
      status.className = 'form-status error';
      status.textContent = 'Enter the management key.';
      key.focus();
      return;
    }
    submit.disabled = true;
    status.className = 'form-status';
    status.textContent = 'Checking…';
    try {
      await api('/config', { key: value });
      setKey(value, remember.checked);
      ctx.done();
    } catch (err) {
      status.className = 'form-status error';
      if (err.status === 404) {
        status.textContent = 'The management API is off on this server: set remote-management.secret-key (or MANAGEMENT_PASSWORD) first.';
      } else if (err.status === 401) {
        status.textContent = `Wrong management key. ${err.message}`;
      } else if (err.status === 403) {
        status.textContent = `Refused: ${err.message}`;
      } else {
        status.textContent = err.message;
      }
      key.select();
    } finally {
      submit.disabled = false;
    }
  });
  main.append(form);
  key.focus();
}
