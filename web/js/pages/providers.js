// Upstream providers: the API-key lists and openai-compatibility entries of the config.

import { gatewayCall } from '../api.js';
import { actionButton, confirmAction, empty, failure, field, h, loading, replace, table, toast } from '../dom.js';
import { buildForm } from '../forms.js';
import { addItem, deleteItem, getList, isMasked, setTestClientKey, testClientKey, updateItem } from '../lists.js';

const COMMON = [
  { name: 'base-url', label: 'Base URL', placeholder: 'https://…' },
  { name: 'prefix', label: 'Prefix', hint: 'Clients then ask for prefix/model.' },
  { name: 'proxy-url', label: 'Proxy URL', placeholder: 'socks5://… or http://…' },
  { name: 'models', label: 'Models', type: 'pairs', hint: 'One per line: upstream-name = alias (alias optional).' },
  { name: 'excluded-models', label: 'Excluded models', type: 'lines', hint: 'One per line, * wildcards.' },
  { name: 'priority', label: 'Priority', type: 'number' },
  { name: 'weight', label: 'Weight', type: 'number' },
];

const KINDS = [
  { route: 'openai-compatibility', title: 'OpenAI-compatible', compat: true },
  { route: 'claude-api-key', title: 'Anthropic (Claude)' },
  { route: 'gemini-api-key', title: 'Google Gemini' },
  { route: 'codex-api-key', title: 'OpenAI Responses (Codex)' },
  { route: 'vertex-api-key', title: 'Vertex AI' },
];

function specsOf(kind, editing) {
  const keyHint = editing ? 'Leave empty to keep the current key.' : null;
  if (kind.compat) {
    return [
      { name: 'name', label: 'Name', required: true },
      { name: 'base-url', label: 'Base URL', required: true, placeholder: 'https://…/v1' },
      { name: 'api-keys', label: 'API keys', type: 'lines', hint: editing ? 'One per line. Leave empty to keep the current keys.' : 'One per line.' },
      ...COMMON.filter((s) => !['base-url', 'proxy-url', 'weight'].includes(s.name)),
    ];
  }
  return [{ name: 'api-key', label: 'API key', type: 'password', required: !editing, hint: keyHint }, ...COMMON];
}

function valuesOf(kind, entry) {
  const values = { ...entry };
  delete values['api-key'];
  if (kind.compat) delete values['api-key-entries'];
  return values;
}

function entryOf(kind, values, previous) {
  const entry = { ...(previous || {}) };
  delete entry['auth-index'];
  for (const [name, value] of Object.entries(values)) {
    if (name === 'api-keys' || name === 'api-key') continue;
    const blank = value === undefined || value === '' || (Array.isArray(value) && !value.length);
    // An edit merges into the stored entry, so a cleared field is sent empty to clear it there.
    if (!blank) entry[name] = value;
    else if (previous && name in previous && value !== undefined) entry[name] = value;
    else delete entry[name];
  }
  if (kind.compat) {
    if (values['api-keys'].length) entry['api-key-entries'] = values['api-keys'].map((key) => ({ 'api-key': key }));
  } else if (values['api-key']) {
    entry['api-key'] = values['api-key'];
  }
  return entry;
}

function label(kind, entry) {
  if (kind.compat) return entry.name || '(unnamed)';
  return entry['base-url'] || 'default endpoint';
}

function keysOf(kind, entry) {
  if (kind.compat) return (entry['api-key-entries'] || []).map((k) => k['api-key']).join(', ');
  return entry['api-key'] || '';
}

function testModel(entry) {
  const model = (entry.models || [])[0];
  if (!model) return '';
  const name = model.alias || model.name;
  return entry.prefix ? `${entry.prefix}/${name}` : name;
}

async function testEntry(entry, out) {
  out.className = 'form-status';
  const model = testModel(entry);
  const clientKey = testClientKey();
  try {
    if (!model) {
      out.textContent = 'No models listed: asking /v1/models…';
      const answer = await gatewayCall('/v1/models', { clientKey });
      out.className = `form-status ${answer.ok ? 'ok' : 'error'}`;
      out.textContent = answer.ok ? `Gateway answers (${answer.ms} ms); list a model to test this entry.` : `Failed (${answer.status}): ${answer.message}`;
      return;
    }
    out.textContent = `Sending a one-token request for ${model}…`;
    const answer = await gatewayCall('/v1/chat/completions', {
      method: 'POST', clientKey,
      json: { model, max_tokens: 1, messages: [{ role: 'user', content: 'ping' }] },
    });
    out.className = `form-status ${answer.ok ? 'ok' : 'error'}`;
    out.textContent = answer.ok ? `OK: ${model} answered in ${answer.ms} ms.` : `Failed (${answer.status}): ${answer.message}`;
  } catch (err) {
    out.className = 'form-status error';
    out.textContent = err.message;
  }
}

function openForm(kind, box, reload, index, entry) {
  const editing = index !== undefined;
  replace(box, buildForm({
    title: editing ? `Edit ${kind.title}: ${label(kind, entry)}` : `Add ${kind.title}`,
    submitLabel: editing ? 'Save' : 'Add',
    specs: specsOf(kind, editing),
    values: editing ? valuesOf(kind, entry) : {},
    onSubmit: async (values) => {
      const value = entryOf(kind, values, editing ? entry : null);
      if (editing) await updateItem(kind.route, index, value);
      else await addItem(kind.route, value);
      toast(editing ? 'Saved.' : 'Added.');
      replace(box);
      reload();
    },
    onCancel: () => replace(box),
  }));
}

async function loadKind(kind, list, box) {
  replace(list, loading(`Loading ${kind.title}…`));
  const reload = () => loadKind(kind, list, box);
  try {
    const entries = await getList(kind.route);
    if (!entries.length) {
      replace(list, empty(`No ${kind.title} entries.`));
      return;
    }
    replace(list, table(['Entry', 'Key', 'Models', 'Actions'], entries.map((entry, index) => {
      const out = h('span', { class: 'form-status', role: 'status', 'aria-live': 'polite' });
      const models = (entry.models || []).map((m) => (m.alias ? `${m.alias} → ${m.name}` : m.name));
      const keys = keysOf(kind, entry);
      return [
        h('div', {}, h('strong', {}, label(kind, entry)),
          entry.prefix ? h('div', { class: 'muted small' }, `prefix ${entry.prefix}`) : null,
          kind.compat && entry['base-url'] ? h('div', { class: 'muted small' }, entry['base-url']) : null),
        h('code', { class: isMasked(keys) ? 'secret' : '' }, keys || '—'),
        models.length ? models.join(', ') : h('span', { class: 'muted' }, 'all the provider serves'),
        h('div', { class: 'row-actions' },
          actionButton('Test', () => testEntry(entry, out), 'btn small'),
          h('button', { type: 'button', class: 'btn small', onclick: () => openForm(kind, box, reload, index, entry) }, 'Edit'),
          actionButton('Delete', async () => {
            if (!confirmAction(`Delete ${kind.title} entry ${label(kind, entry)}?`)) return;
            try {
              await deleteItem(kind.route, index);
              toast('Deleted.');
              reload();
            } catch (err) {
              toast(err.message, 'error');
            }
          }, 'btn small danger'),
          out),
      ];
    })));
  } catch (err) {
    replace(list, failure(err, reload));
  }
}

/** Draw the providers page. */
export function render(main) {
  const keyInput = h('input', {
    type: 'password', autocomplete: 'off', value: testClientKey(),
    onchange: (event) => setTestClientKey(event.target.value.trim()),
  });
  main.append(h('section', { class: 'card' },
    h('p', { class: 'muted' }, 'Test sends a one-token chat request for the entry\'s first model through this gateway, with the client key below (kept in this tab only).'),
    field('Client key for tests', keyInput)));
  for (const kind of KINDS) {
    const box = h('div');
    const list = h('div');
    main.append(h('section', { class: 'provider-kind', 'data-route': kind.route },
      h('div', { class: 'section-head' }, h('h2', {}, kind.title),
        h('button', { type: 'button', class: 'btn small primary', 'aria-label': `Add ${kind.title}`, onclick: () => openForm(kind, box, () => loadKind(kind, list, box)) }, 'Add')),
      box, list));
    loadKind(kind, list, box);
  }
}
