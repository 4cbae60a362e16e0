// Building the page from data without ever parsing data as HTML: every text goes in as a text
// node, every attribute through setAttribute or a property.

const PROPS = new Set(['value', 'checked', 'disabled', 'selected', 'hidden', 'multiple', 'readOnly']);

/** An element with attributes, listeners (`onclick`...) and children (strings become text). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

/** An SVG element (charts); same calling shape as h(). */
export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

function setAttrs(el, attrs) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2), value);
    } else if (key === 'class') {
      el.setAttribute('class', Array.isArray(value) ? value.filter(Boolean).join(' ') : value);
    } else if (PROPS.has(key)) {
      el[key] = value;
    } else if (key === 'href' || key === 'src') {
      el.setAttribute(key, safeUrl(value));
    } else {
      el.setAttribute(key, value === true ? '' : String(value));
    }
  }
}

/** Append children: strings and numbers as text, arrays flattened, null skipped. */
export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Replace everything inside el. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** A URL safe to put in href: same-origin paths, http(s) and mailto only; anything else is inert. */
export function safeUrl(value) {
  const text = String(value);
  if (text.startsWith('/') && !text.startsWith('//')) return text;
  if (text.startsWith('#')) return text;
  try {
    const url = new URL(text);
    if (url.protocol === 'https:' || url.protocol === 'http:' || url.protocol === 'mailto:') {
      return url.href;
    }
  } catch {
    // not a URL at all
  }
  return '#';
}

/** The loading state of a region. */
export function loading(text = 'Loading…') {
  return h('p', { class: 'state state-loading', role: 'status', 'aria-live': 'polite' },
    h('span', { class: 'spinner', 'aria-hidden': 'true' }), text);
}

/** The empty state of a region. */
export function empty(text) {
  return h('p', { class: 'state state-empty' }, text);
}

/** The error state of a region; a 404 reads as a feature this server does not offer. */
export function failure(err, retry) {
  const unavailable = err && err.status === 404;
  const title = unavailable ? 'Not available on this server' : 'Something went wrong';
  const detail = unavailable
    ? `The management API has no ${err.path || 'such'} route here.`
    : (err && err.message) || String(err);
  return h('div', { class: unavailable ? 'state state-unavailable' : 'state state-error', role: 'alert' },
    h('strong', {}, title), h('span', {}, detail),
    retry ? h('button', { type: 'button', class: 'btn small', onclick: retry }, 'Try again') : null);
}

/** A labelled form field; `input` is the control element. */
export function field(label, input, hint) {
  const id = input.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  input.id = id;
  return h('div', { class: 'field' },
    h('label', { for: id }, label), input, hint ? h('small', { class: 'hint' }, hint) : null);
}

let toastTimer = 0;

/** A short message at the bottom of the screen (announced to screen readers). */
export function toast(text, kind = 'ok') {
  let box = document.getElementById('toast');
  if (!box) {
    box = h('div', { id: 'toast', class: 'toast', role: 'status', 'aria-live': 'polite' });
    document.body.append(box);
  }
  box.className = `toast show toast-${kind}`;
  box.textContent = text;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { box.className = 'toast'; }, 4000);
}

/** Ask before a destructive action. */
export function confirmAction(text) {
  return window.confirm(text);
}

/** Format a count with thousands separators. */
export function num(value) {
  return Number(value || 0).toLocaleString('en-US');
}

/** A unix-seconds or ISO time as local "YYYY-MM-DD HH:MM:SS"; '' when absent. */
export function when(value) {
  if (value === undefined || value === null || value === '') return '';
  const date = typeof value === 'number' ? new Date(value < 1e12 ? value * 1000 : value) : new Date(value);
  if (Number.isNaN(date.getTime()) || date.getTime() <= 0) return '';
  const pad = (n) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} `
    + `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

/** A table with a header row; rows are arrays of cells (strings or nodes). */
export function table(headers, rows, caption) {
  return h('div', { class: 'table-wrap', tabindex: '0' },
    h('table', {},
      caption ? h('caption', {}, caption) : null,
      h('thead', {}, h('tr', {}, headers.map((label) => h('th', { scope: 'col' }, label)))),
      h('tbody', {}, rows.map((cells) => h('tr', {},
        cells.map((cell, i) => h('td', { 'data-label': headers[i] || '' }, cell)))))));
}

/** A button that shows a busy state while its async action runs. */
export function actionButton(label, action, cls = 'btn') {
  const button = h('button', { type: 'button', class: cls });
  button.textContent = label;
  button.addEventListener('click', async () => {
    if (button.disabled) return;
    button.disabled = true;
    button.setAttribute('aria-busy', 'true');
    try {
      await action(button);
    } finally {
      button.disabled = false;
      button.removeAttribute('aria-busy');
    }
  });
  return button;
}
