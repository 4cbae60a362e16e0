// Usage tables: requests filtered by client key, model, credential and day, grouped as asked.

import { api } from '../api.js';
import { actionButton, empty, failure, field, h, loading, num, replace, table, toast, when } from '../dom.js';
import { groupBy, money, readUsage } from '../usage-data.js';

const FILTERS = [
  ['key', 'Client key'],
  ['model', 'Model'],
  ['credential', 'Credential'],
  ['day', 'Day (UTC)'],
];
const RECENT_ROWS = 200;

function select(name, values, onchange) {
  return h('select', { name, onchange },
    h('option', { value: '' }, 'All'),
    [...values].sort().map((v) => h('option', { value: v }, v)));
}

function summary(records, by) {
  const groups = groupBy(records, by);
  const label = FILTERS.find(([name]) => name === by)[1];
  return table([label, 'Requests', 'Errors', 'Input tokens', 'Output tokens', 'Total tokens', 'Cost', 'Mean latency'],
    groups.map((g) => [g.label, num(g.requests), num(g.failures), num(g.input), num(g.output), num(g.tokens),
      money(g.cost), `${Math.round(g.latency / Math.max(g.requests, 1))} ms`]), `Requests by ${label.toLowerCase()}`);
}

function recent(records) {
  return table(['Time', 'Client key', 'Model', 'Credential', 'Tokens in / out', 'Status', 'Latency'],
    records.slice(0, RECENT_ROWS).map((r) => [when(r.ts), r.key, r.model, r.credential || '—',
      `${num(r.input)} / ${num(r.output)}`,
      h('span', { class: r.failed ? 'error-text' : '' }, r.failed ? `failed ${r.status || ''}` : String(r.status || 'ok')),
      `${Math.round(r.latency)} ms`]), 'Recent requests');
}

async function exportUsage() {
  const blob = await api('/usage/export', { as: 'blob' });
  const url = URL.createObjectURL(blob);
  const link = h('a', { download: `usage-${new Date().toISOString().slice(0, 10)}.json` });
  link.href = url;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** Draw the usage page. */
export function render(main) {
  const box = h('div', {}, loading('Loading usage…'));
  main.append(box);
  const load = async () => {
    replace(box, loading('Loading usage…'));
    let data;
    try {
      data = readUsage(await api('/usage'));
    } catch (err) {
      replace(box, failure(err, load));
      return;
    }
    const { records } = data;
    if (!records.length) {
      replace(box, empty('No requests recorded yet. Send one through the gateway and refresh.'),
        h('button', { type: 'button', class: 'btn', onclick: load }, 'Refresh'));
      return;
    }
    const chosen = {};
    const output = h('div', { class: 'usage-output' });
    const groupSelect = h('select', { name: 'group' }, FILTERS.map(([name, label]) => h('option', { value: name }, label)));
    groupSelect.value = 'model';
    const draw = () => {
      const shown = records.filter((r) => FILTERS.every(([name]) => !chosen[name] || r[name] === chosen[name]));
      if (!shown.length) {
        replace(output, empty('No request matches these filters.'));
        return;
      }
      replace(output, h('p', { class: 'muted small', role: 'status' }, `${num(shown.length)} requests shown`
        + (records.length >= 1000 ? ' (the most recent the server keeps)' : '')),
      summary(shown, groupSelect.value), recent(shown));
    };
    groupSelect.addEventListener('change', draw);
    const filters = FILTERS.map(([name, label]) => {
      const values = new Set(records.map((r) => r[name]).filter(Boolean));
      return field(label, select(name, values, (event) => { chosen[name] = event.target.value; draw(); }));
    });
    replace(box, h('div', { class: 'card filters' }, filters, field('Group by', groupSelect),
      h('div', { class: 'actions' },
        h('button', { type: 'button', class: 'btn', onclick: load }, 'Refresh'),
        actionButton('Export JSON', async () => {
          try { await exportUsage(); } catch (err) { toast(err.message, 'error'); }
        }))), output);
    draw();
  };
  load();
}
