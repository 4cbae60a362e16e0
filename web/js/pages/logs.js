// Logs: the tail of the main log with auto-refresh, clearing, and the request error logs.

import { api, listOf } from '../api.js';
import { actionButton, confirmAction, empty, failure, h, loading, replace, table, toast, when } from '../dom.js';

const REFRESH_MS = 3000;
const TAIL_LINES = 500;

function linesOf(body) {
  if (typeof body === 'string') return body.split('\n').filter(Boolean);
  return listOf(body, 'lines').map(String);
}

async function downloadErrorLog(name) {
  const blob = await api(`/request-error-logs/${encodeURIComponent(name)}`, { as: 'blob' });
  const url = URL.createObjectURL(blob);
  const link = h('a', { download: name });
  link.href = url;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

async function loadErrorLogs(box) {
  replace(box, loading('Loading request error logs…'));
  try {
    const files = listOf(await api('/request-error-logs'), 'files');
    if (!files.length) {
      replace(box, empty('No request error logs.'));
      return;
    }
    replace(box, table(['File', 'Size', 'Modified', ''], files.map((f) => {
      const name = typeof f === 'string' ? f : f.name;
      return [name, f.size ? `${f.size} B` : '', when(f.modified ?? f.modtime), actionButton('Download', async () => {
        try { await downloadErrorLog(name); } catch (err) { toast(err.message, 'error'); }
      }, 'btn small')];
    })));
  } catch (err) {
    replace(box, failure(err, () => loadErrorLogs(box)));
  }
}

/** Draw the logs page; returns the cleanup that stops auto-refresh. */
export function render(main) {
  const view = h('pre', { class: 'log', tabindex: '0', 'aria-label': 'Main log', 'aria-live': 'off' });
  const status = h('p', { class: 'muted small', role: 'status' });
  const box = h('div', { class: 'card' }, loading('Loading the log…'));
  const auto = h('input', { type: 'checkbox', checked: true });
  let lines = [];
  let timer = 0;
  let busy = false;

  const fetchMore = async () => {
    if (busy) return;
    busy = true;
    try {
      // The whole tail every time: `after` counts in whole seconds, so lines written in the
      // second of the last poll would be missed by an incremental read.
      const body = await api(`/logs?limit=${TAIL_LINES}`);
      lines = linesOf(body);
      const atBottom = view.scrollTop + view.clientHeight >= view.scrollHeight - 8;
      if (!box.contains(view)) replace(box, view, status);
      view.textContent = lines.length ? lines.join('\n') : '(the log is empty)';
      if (atBottom) view.scrollTop = view.scrollHeight;
      status.textContent = `${lines.length} lines · updated ${when(Date.now())}`;
    } catch (err) {
      clearInterval(timer);
      auto.checked = false;
      const retry = () => { replace(box, loading('Loading the log…')); fetchMore(); };
      if (err.status === 400 && /logging to file/i.test(err.message)) {
        replace(box, h('div', { class: 'state state-unavailable', role: 'status' },
          h('strong', {}, 'The gateway does not write a log file'),
          h('span', {}, 'Set logging-to-file: true in Config to read the log here.'),
          h('button', { type: 'button', class: 'btn small', onclick: retry }, 'Try again')));
      } else {
        replace(box, failure(err, retry));
      }
    } finally {
      busy = false;
    }
  };
  const schedule = () => {
    clearInterval(timer);
    if (auto.checked) timer = setInterval(fetchMore, REFRESH_MS);
  };
  auto.addEventListener('change', schedule);
  const clear = actionButton('Clear logs', async () => {
    if (!confirmAction('Clear the server\'s log files?')) return;
    try {
      await api('/logs', { method: 'DELETE' });
      toast('Logs cleared.');
      await fetchMore();
    } catch (err) {
      toast(err.message, 'error');
    }
  }, 'btn danger');
  const errors = h('div', { class: 'card' });
  main.append(h('div', { class: 'toolbar' },
    h('label', { class: 'check' }, auto, 'Auto-refresh'),
    h('button', { type: 'button', class: 'btn', onclick: fetchMore }, 'Refresh now'), clear),
  box, h('h2', {}, 'Request error logs'), errors);
  fetchMore();
  schedule();
  loadErrorLogs(errors);
  return () => clearInterval(timer);
}
