// The config editor: config.yaml as text; the server validates a change before it writes it.

import { api } from '../api.js';
import { actionButton, failure, h, loading, replace, toast } from '../dom.js';

function problemOf(err) {
  const body = err.body && typeof err.body === 'object' ? err.body : {};
  const path = body.path || body['key-path'] || body.key || (body.error && body.error.path) || '';
  const line = body.line || (body.error && body.error.line) || '';
  return { path: String(path || ''), line: String(line || ''), message: err.message };
}

/** Draw the config editor. */
export function render(main) {
  const box = h('div', { class: 'card' }, loading('Loading config.yaml…'));
  main.append(h('p', { class: 'muted' }, 'The whole config.yaml. Saving sends it to the server, which checks it first: an invalid file is refused with the reason and nothing changes. A valid one is written and takes effect at once.'), box);
  let saved = '';

  const load = async () => {
    replace(box, loading('Loading config.yaml…'));
    let text;
    try {
      text = await api('/config.yaml', { as: 'text' });
    } catch (err) {
      replace(box, failure(err, load));
      return;
    }
    saved = text;
    const editor = h('textarea', { class: 'yaml', spellcheck: 'false', rows: 24, 'aria-label': 'config.yaml', value: text, autocapitalize: 'off' });
    const dirty = h('span', { class: 'muted small', 'aria-live': 'polite' });
    const result = h('div', { class: 'config-result', role: 'status', 'aria-live': 'polite' });
    editor.addEventListener('input', () => {
      dirty.textContent = editor.value === saved ? '' : 'Unsaved changes';
    });
    const save = actionButton('Save', async () => {
      replace(result, h('p', { class: 'form-status' }, 'Checking and saving…'));
      try {
        await api('/config.yaml', { method: 'PUT', body: editor.value, headers: { 'Content-Type': 'application/yaml' } });
        saved = editor.value;
        dirty.textContent = '';
        replace(result, h('p', { class: 'form-status ok' }, 'Saved. The gateway reloaded the config.'));
        toast('Config saved.');
      } catch (err) {
        if (err.status === 400 || err.status === 422) {
          const problem = problemOf(err);
          replace(result, h('div', { class: 'state state-error', role: 'alert', 'data-testid': 'config-error' },
            h('strong', {}, 'Not saved: the server refused this config.'),
            problem.path ? h('span', {}, 'At ', h('code', {}, problem.path), problem.line ? ` (line ${problem.line})` : '') : null,
            h('span', { class: 'config-message' }, problem.message)));
        } else {
          replace(result, failure(err));
        }
      }
    }, 'btn primary');
    const revert = h('button', {
      type: 'button', class: 'btn ghost', onclick: () => {
        editor.value = saved;
        dirty.textContent = '';
        replace(result);
      },
    }, 'Undo changes');
    replace(box, editor, h('div', { class: 'actions' }, save, revert,
      h('button', { type: 'button', class: 'btn ghost', onclick: load }, 'Reload from server'), dirty), result);
  };
  load();
}
