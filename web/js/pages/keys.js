// Client keys (`api-keys`): list, add, edit, delete, and test one against the gateway.

import { gatewayCall } from '../api.js';
import { actionButton, confirmAction, empty, failure, field, h, loading, replace, table, toast } from '../dom.js';
import { buildForm } from '../forms.js';
import { addItem, deleteItem, getList, updateItem } from '../lists.js';

const ROUTE = 'api-keys';

function newKey() {
  const bytes = new Uint8Array(24);
  crypto.getRandomValues(bytes);
  return `sk-${[...bytes].map((b) => b.toString(16).padStart(2, '0')).join('')}`;
}

function keyForm(box, reload, { index, current } = {}) {
  const editing = index !== undefined;
  const form = buildForm({
    title: editing ? `Replace key ${current}` : 'Add a client key',
    submitLabel: editing ? 'Replace' : 'Add key',
    specs: [{ name: 'key', label: 'Key', required: true, hint: 'Clients send it as Authorization: Bearer.' }],
    values: { key: editing ? '' : newKey() },
    onSubmit: async ({ key }) => {
      if (editing) await updateItem(ROUTE, index, key);
      else await addItem(ROUTE, key);
      toast(editing ? 'Key replaced.' : 'Key added.');
      replace(box);
      reload();
    },
    onCancel: () => replace(box),
  });
  replace(box, form);
}

async function load(list, formBox) {
  replace(list, loading('Loading client keys…'));
  const reload = () => load(list, formBox);
  try {
    const keys = await getList(ROUTE);
    if (!keys.length) {
      replace(list, empty('No client keys. Clients can only connect from this machine until you add one.'));
      return;
    }
    replace(list, table(['#', 'Key', 'Actions'], keys.map((key, index) => [
      String(index + 1),
      h('code', { class: 'secret' }, String(key)),
      h('div', { class: 'row-actions' },
        h('button', { type: 'button', class: 'btn small', onclick: () => keyForm(formBox, reload, { index, current: key }) }, 'Edit'),
        actionButton('Delete', async () => {
          if (!confirmAction(`Delete client key ${key}? Clients using it stop working.`)) return;
          try {
            await deleteItem(ROUTE, index);
            toast('Key deleted.');
            reload();
          } catch (err) {
            toast(err.message, 'error');
          }
        }, 'btn small danger')),
    ]), 'Client keys'));
  } catch (err) {
    replace(list, failure(err, reload));
  }
}

function tester() {
  const input = h('input', { type: 'password', autocomplete: 'off', spellcheck: 'false' });
  const result = h('p', { class: 'form-status', role: 'status', 'aria-live': 'polite' });
  const run = actionButton('Test key', async () => {
    result.className = 'form-status';
    result.textContent = 'Asking /v1/models…';
    try {
      const answer = await gatewayCall('/v1/models', { clientKey: input.value.trim() });
      const count = answer.body && Array.isArray(answer.body.data) ? answer.body.data.length : 0;
      result.className = `form-status ${answer.ok ? 'ok' : 'error'}`;
      result.textContent = answer.ok
        ? `Accepted: ${count} models in ${answer.ms} ms.`
        : `Refused (${answer.status}): ${answer.message}`;
    } catch (err) {
      result.className = 'form-status error';
      result.textContent = err.message;
    }
  });
  return h('section', { class: 'card' }, h('h2', {}, 'Test a key'),
    h('p', { class: 'muted' }, 'Sends GET /v1/models through the gateway with the key.'),
    field('Client key', input), h('div', { class: 'actions' }, run), result);
}

/** Draw the client keys page. */
export function render(main) {
  const formBox = h('div');
  const list = h('section', { class: 'card' });
  main.append(
    h('div', { class: 'toolbar' },
      h('button', { type: 'button', class: 'btn primary', onclick: () => keyForm(formBox, () => load(list, formBox)) }, 'Add key')),
    formBox, list, tester());
  load(list, formBox);
}
