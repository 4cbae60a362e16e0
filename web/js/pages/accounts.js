// Accounts: the auth files (OAuth credentials) with their state, and what can be done to them.

import { api, listOf } from '../api.js';
import { STATE_LABEL, cooldownUntil, credentialState } from '../credentials.js';
import { actionButton, confirmAction, empty, failure, field, h, loading, num, replace, table, toast, when } from '../dom.js';

function nameOf(file) {
  return file.name || file.id || file.file || '';
}

function q(file) {
  return `name=${encodeURIComponent(nameOf(file))}`;
}

async function download(file) {
  const blob = await api(`/auth-files/download?${q(file)}`, { as: 'blob' });
  const url = URL.createObjectURL(blob);
  const link = h('a', { download: nameOf(file) });
  link.href = url;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

function refreshState(file) {
  const refresh = file.refresh || {};
  const parts = [];
  const last = when(refresh.last_refresh ?? file.last_refresh);
  const expires = when(refresh.expires_at ?? file.expired ?? file.expires_at);
  if (last) parts.push(`refreshed ${last}`);
  if (expires) parts.push(`${Date.parse(refresh.expires_at ?? file.expired) < Date.now() ? 'expired' : 'expires'} ${expires}`);
  if (refresh.has_refresh_token === false) parts.push('no refresh token');
  const error = file.refresh_error || file.last_error || (file.status === 'error' ? file.status_message : '');
  return h('div', { class: 'small' }, parts.length ? parts.join(' · ') : h('span', { class: 'muted' }, 'no refresh yet'),
    error ? h('div', { class: 'error-text' }, String(typeof error === 'object' ? JSON.stringify(error) : error)) : null);
}

function counters(file) {
  const ok = file.success ?? file.success_count ?? (file.counters && file.counters.success);
  const bad = file.failed ?? file.failure_count ?? (file.counters && file.counters.failed);
  if (ok === undefined && bad === undefined) return h('span', { class: 'muted' }, '—');
  return `${num(ok)} ok / ${num(bad)} failed`;
}

function row(file, reload) {
  const state = credentialState(file);
  const until = cooldownUntil(file);
  const disabled = state === 'disabled';
  const act = (label, work, cls = 'btn small') => actionButton(label, async () => {
    try {
      await work();
    } catch (err) {
      toast(err.message, 'error');
    }
  }, cls);
  return [
    h('div', {}, h('strong', { class: 'file-name' }, nameOf(file)),
      h('div', { class: 'muted small' }, [file.type || file.provider, file.email, file.account_type || file.plan].filter(Boolean).join(' · '))),
    h('div', {}, h('span', { class: `state-chip chip-${state}`, 'data-state': state }, STATE_LABEL[state]),
      until ? h('div', { class: 'muted small' }, `until ${when(until)}`) : null),
    refreshState(file),
    counters(file),
    h('div', { class: 'row-actions' },
      act(disabled ? 'Enable' : 'Disable', async () => {
        await api('/auth-files/status', { method: 'PATCH', json: { name: nameOf(file), disabled: !disabled } });
        toast(disabled ? 'Enabled.' : 'Disabled.');
        reload();
      }),
      act('Reset cooldown', async () => {
        const index = file.auth_index ?? file['auth-index'] ?? nameOf(file);
        await api('/reset-quota', { method: 'POST', json: { auth_index: index, name: nameOf(file) } });
        toast('Cooldown cleared.');
        reload();
      }),
      act('Download', () => download(file)),
      act('Delete', async () => {
        if (!confirmAction(`Delete the auth file ${nameOf(file)}? The account stops serving.`)) return;
        await api(`/auth-files?${q(file)}`, { method: 'DELETE' });
        toast('Deleted.');
        reload();
      }, 'btn small danger')),
  ];
}

function draw(list, files, filter, reload) {
  const text = filter.value.trim().toLowerCase();
  const shown = text ? files.filter((f) => JSON.stringify([nameOf(f), f.email, f.type]).toLowerCase().includes(text)) : files;
  if (!files.length) {
    replace(list, empty('No auth files yet. Upload one above, or sign in under OAuth logins.'));
  } else if (!shown.length) {
    replace(list, empty('No account matches the filter.'));
  } else {
    replace(list, table(['Account', 'State', 'Refresh', 'Requests', 'Actions'], shown.map((f) => row(f, reload)), 'Auth files'));
  }
}

async function load(list, filter, view) {
  replace(list, loading('Loading accounts…'));
  const reload = () => load(list, filter, view);
  try {
    view.files = listOf(await api('/auth-files'), 'files');
    view.reload = reload;
    draw(list, view.files, filter, reload);
  } catch (err) {
    view.files = null;
    replace(list, failure(err, reload));
  }
}

function uploader(onDone) {
  const input = h('input', { type: 'file', accept: '.json,application/json', multiple: true, name: 'file' });
  const status = h('p', { class: 'form-status', role: 'status', 'aria-live': 'polite' });
  const send = actionButton('Upload', async () => {
    if (!input.files.length) {
      status.className = 'form-status error';
      status.textContent = 'Choose one or more .json auth files first.';
      return;
    }
    status.className = 'form-status';
    const failures = [];
    for (const file of input.files) {
      status.textContent = `Uploading ${file.name}…`;
      const form = new FormData();
      form.append('file', file, file.name);
      try {
        await api('/auth-files', { method: 'POST', body: form });
      } catch (err) {
        failures.push(`${file.name}: ${err.message}`);
      }
    }
    status.className = `form-status ${failures.length ? 'error' : 'ok'}`;
    status.textContent = failures.length ? failures.join('; ') : 'Uploaded.';
    input.value = '';
    onDone();
  }, 'btn primary');
  return h('section', { class: 'card' }, h('h2', {}, 'Upload auth files'),
    field('Auth file (JSON)', input, 'CLIProxyAPI auth files: claude-…json, codex-…json, gemini-…json and so on.'),
    h('div', { class: 'actions' }, send), status);
}

/** Draw the accounts page. */
export function render(main) {
  const list = h('section', { class: 'card' });
  const view = { files: null, reload: null };
  const filter = h('input', {
    type: 'search', placeholder: 'name, email or type',
    oninput: () => { if (view.files) draw(list, view.files, filter, view.reload); },
  });
  main.append(uploader(() => load(list, filter, view)),
    h('div', { class: 'toolbar' }, field('Filter', filter),
      h('button', { type: 'button', class: 'btn', onclick: () => load(list, filter, view) }, 'Refresh list')),
    list);
  load(list, filter, view);
}
