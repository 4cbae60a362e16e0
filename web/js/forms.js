// Small declarative forms: a list of field specs in, a <form> and a reader of its values out.

import { field, h } from './dom.js';

function control(spec, value) {
  if (spec.type === 'lines' || spec.type === 'pairs' || spec.type === 'textarea') {
    return h('textarea', { name: spec.name, rows: spec.rows || 3, spellcheck: 'false', value: toText(spec, value) });
  }
  if (spec.type === 'checkbox') return h('input', { type: 'checkbox', name: spec.name, checked: Boolean(value) });
  return h('input', {
    type: spec.type || 'text', name: spec.name, value: value ?? '', autocomplete: 'off',
    spellcheck: 'false', placeholder: spec.placeholder || null, required: spec.required || null,
    inputmode: spec.type === 'number' ? 'numeric' : null,
  });
}

function toText(spec, value) {
  if (!value) return '';
  if (spec.type === 'lines') return value.join('\n');
  if (spec.type === 'pairs') return value.map((m) => (m.alias ? `${m.name} = ${m.alias}` : m.name)).join('\n');
  return String(value);
}

function fromText(spec, el) {
  if (spec.type === 'checkbox') return el.checked;
  const text = el.value.trim();
  if (spec.type === 'number') return text === '' ? undefined : Number(text);
  if (spec.type === 'lines') return text ? text.split('\n').map((s) => s.trim()).filter(Boolean) : [];
  if (spec.type === 'pairs') {
    return text ? text.split('\n').map((line) => line.trim()).filter(Boolean).map((line) => {
      const [name, alias] = line.split('=').map((s) => s.trim());
      return alias ? { name, alias } : { name };
    }) : [];
  }
  return text;
}

/**
 * A form for `specs` filled from `values`; `onSubmit(values)` may throw to show an error.
 * Returns the <form>; the caller puts it where it belongs.
 */
export function buildForm({ specs, values = {}, submitLabel = 'Save', onSubmit, onCancel, title }) {
  const controls = new Map();
  const status = h('p', { class: 'form-status', role: 'status', 'aria-live': 'polite' });
  const submit = h('button', { type: 'submit', class: 'btn primary' }, submitLabel);
  const form = h('form', { class: 'card form', novalidate: true },
    title ? h('h3', {}, title) : null,
    h('div', { class: 'form-grid' }, specs.map((spec) => {
      const el = control(spec, values[spec.name]);
      controls.set(spec.name, el);
      return spec.type === 'checkbox'
        ? h('label', { class: 'check' }, el, spec.label)
        : field(spec.label, el, spec.hint);
    })),
    h('div', { class: 'actions' }, submit,
      onCancel ? h('button', { type: 'button', class: 'btn ghost', onclick: onCancel }, 'Cancel') : null),
    status);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const result = {};
    for (const spec of specs) {
      const value = fromText(spec, controls.get(spec.name));
      if (spec.required && (value === '' || value === undefined)) {
        status.className = 'form-status error';
        status.textContent = `${spec.label} is required.`;
        controls.get(spec.name).focus();
        return;
      }
      if (spec.type === 'number' && value !== undefined && Number.isNaN(value)) {
        status.className = 'form-status error';
        status.textContent = `${spec.label} must be a number.`;
        controls.get(spec.name).focus();
        return;
      }
      result[spec.name] = value;
    }
    submit.disabled = true;
    status.className = 'form-status';
    status.textContent = 'Saving…';
    try {
      await onSubmit(result);
      status.textContent = '';
    } catch (err) {
      status.className = 'form-status error';
      status.textContent = err.message || String(err);
    } finally {
      submit.disabled = false;
    }
  });
  queueMicrotask(() => {
    const first = form.querySelector('input, textarea');
    if (first) first.focus();
  });
  return form;
}
