// Dashboard: traffic over the last day, and how the credentials are doing.

import { api, banner, listOf } from '../api.js';
import { barChart } from '../charts.js';
import { STATE_LABEL, countStates } from '../credentials.js';
import { empty, failure, h, loading, num, replace } from '../dom.js';
import { lastHours, money, readUsage } from '../usage-data.js';

function stat(label, value, tone) {
  return h('div', { class: `stat ${tone || ''}` }, h('span', { class: 'stat-label' }, label),
    h('strong', { class: 'stat-value' }, value));
}

const STORE_TONE = { ok: 'pill-ok', degraded: 'pill-warn', down: 'pill-error' };

function storeLine(info) {
  // The banner reports the storage backend as {backend, state: ok|degraded|down, queued, last_error}.
  const store = info.storage || info.store;
  if (!store || typeof store !== 'object') return null;
  const state = String(store.state || store.status || 'ok');
  const parts = [`Store ${store.backend || store.kind || ''}: ${state}`];
  if (store.queued) parts.push(`${num(store.queued)} writes queued`);
  if (store.last_error && state !== 'ok') parts.push(String(store.last_error));
  return h('p', { class: `pill ${STORE_TONE[state] || 'pill-warn'}`, 'data-testid': 'store-health' }, parts.join(' · '));
}

async function loadServer(box) {
  try {
    const info = await banner();
    replace(box, h('p', {}, `aiproxyapi ${info.version || ''} · ${num(info.models)} routable models`),
      storeLine(info));
  } catch (err) {
    replace(box, failure(err));
  }
}

async function loadTraffic(box) {
  replace(box, loading('Loading usage…'));
  try {
    const { totals, hours } = readUsage(await api('/usage'));
    const series = lastHours(hours, 24);
    const tick = (p) => `${p.hour.slice(11, 13)}h`;
    const costKnown = series.some((p) => p.cost !== null) || totals.cost !== null;
    replace(box,
      h('div', { class: 'stats' },
        stat('Requests', num(totals.requests)),
        stat('Tokens', num(totals.tokens)),
        stat('Cost', money(totals.cost)),
        stat('Errors', num(totals.failures), totals.failures ? 'bad' : '')),
      h('p', { class: 'muted small' }, 'Last 24 hours, per UTC hour.'),
      h('div', { class: 'charts' },
        barChart({ title: 'Requests', points: series.map((p) => ({ label: p.hour, tick: tick(p), value: p.requests })), format: num }),
        barChart({ title: 'Tokens', points: series.map((p) => ({ label: p.hour, tick: tick(p), value: p.tokens })), format: num }),
        barChart({
          title: 'Cost', tone: 'warm', format: money, known: costKnown,
          emptyText: costKnown ? 'No cost in the last 24 hours.' : 'The server reports no prices.',
          points: series.map((p) => ({ label: p.hour, tick: tick(p), value: p.cost || 0 })),
        }),
        barChart({ title: 'Errors', tone: 'bad', points: series.map((p) => ({ label: p.hour, tick: tick(p), value: p.failures })), format: num, emptyText: 'No errors in the last 24 hours.' })));
  } catch (err) {
    replace(box, failure(err, () => loadTraffic(box)));
  }
}

async function credentialsOf() {
  // `/auths` lists every credential in rotation (API keys and accounts); `/auth-files` adds the
  // accounts that are out of it (disabled, unreadable). Either alone is enough to draw.
  const [auths, files] = await Promise.allSettled([api('/auths'), api('/auth-files')]);
  if (auths.status === 'rejected' && files.status === 'rejected') throw auths.reason;
  const inRotation = auths.status === 'fulfilled' ? listOf(auths.value, 'auths') : [];
  const seen = new Set(inRotation.map((a) => a.auth_index));
  const outside = files.status === 'fulfilled'
    ? listOf(files.value, 'files').filter((f) => !seen.has(f.auth_index ?? f.name)) : [];
  return [...inRotation, ...outside];
}

async function loadCredentials(box) {
  replace(box, loading('Loading credentials…'));
  try {
    const credentials = await credentialsOf();
    if (!credentials.length) {
      replace(box, empty('No credentials yet. Add a provider key under Providers, or an account under Accounts.'));
      return;
    }
    const counts = countStates(credentials);
    replace(box, h('ul', { class: 'states' }, Object.entries(counts).map(([state, count]) =>
      h('li', { class: `state-chip chip-${state}`, 'data-state': state },
        h('strong', {}, String(count)), ` ${STATE_LABEL[state]}`))),
    h('p', {}, h('a', { href: '#/accounts' }, 'Manage accounts →'), ' · ', h('a', { href: '#/providers' }, 'Providers →')));
  } catch (err) {
    replace(box, failure(err, () => loadCredentials(box)));
  }
}

/** Draw the dashboard. */
export function render(main) {
  const server = h('div', { class: 'card' }, loading('Asking the server…'));
  const traffic = h('section', { class: 'card', 'aria-labelledby': 'traffic-h' });
  const creds = h('section', { class: 'card', 'aria-labelledby': 'creds-h' });
  main.append(server,
    h('h2', { id: 'traffic-h' }, 'Traffic'), traffic,
    h('h2', { id: 'creds-h' }, 'Credentials'), creds);
  loadServer(server);
  loadTraffic(traffic);
  loadCredentials(creds);
}
