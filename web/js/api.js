// The one way the panel talks to the server: the management API, key as a Bearer token.

const BASE = '/v0/management';
const KEY_NAME = 'aiproxyapi.management-key';

/** An answer other than 2xx, with the server's own message. */
export class ApiError extends Error {
  constructor(status, message, body, path) {
    super(message);
    this.status = status;
    this.body = body;
    this.path = path;
  }
}

/** The management key of this tab (or remembered on this browser), '' when none. */
export function getKey() {
  return sessionStorage.getItem(KEY_NAME) || localStorage.getItem(KEY_NAME) || '';
}

/** Keep the key for this tab; `remember` also keeps it on this browser. */
export function setKey(key, remember) {
  sessionStorage.setItem(KEY_NAME, key);
  if (remember) localStorage.setItem(KEY_NAME, key);
  else localStorage.removeItem(KEY_NAME);
}

/** Whether the key is remembered across browser restarts. */
export function isRemembered() {
  return localStorage.getItem(KEY_NAME) !== null;
}

/** Forget the key everywhere. */
export function clearKey() {
  sessionStorage.removeItem(KEY_NAME);
  localStorage.removeItem(KEY_NAME);
}

let onUnauthorized = () => {};

/** What to do when the server refuses the key (the shell sends the user to the login page). */
export function setUnauthorizedHandler(handler) {
  onUnauthorized = handler;
}

function messageOf(status, body, text) {
  if (body && typeof body === 'object') {
    const err = body.error;
    const parts = [];
    if (typeof body.message === 'string') parts.push(body.message);
    if (err && typeof err === 'object' && typeof err.message === 'string') parts.push(err.message);
    if (typeof err === 'string' && !parts.length) parts.push(err);
    if (typeof body.detail === 'string') parts.push(body.detail);
    if (parts.length) return parts.join(': ');
  }
  if (text && text.length < 400) return text.trim();
  return `HTTP ${status}`;
}

/**
 * Call a management route. `json` sends a JSON body, `body` anything else (FormData, text);
 * `as` picks what comes back: 'json' (default), 'text' or 'blob'. `key` overrides the stored key.
 */
export async function api(path, { method = 'GET', json, body, headers = {}, as = 'json', key } = {}) {
  const init = { method, headers: { ...headers }, cache: 'no-store', credentials: 'omit' };
  const token = key ?? getKey();
  if (token) init.headers.Authorization = `Bearer ${token}`;
  if (json !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(json);
  } else if (body !== undefined) {
    init.body = body;
  }
  let response;
  try {
    response = await fetch(BASE + path, init);
  } catch (err) {
    throw new ApiError(0, `The server did not answer (${err.message})`, null, path);
  }
  if (!response.ok) {
    const text = await response.text();
    let parsed = null;
    try { parsed = JSON.parse(text); } catch { parsed = null; }
    const error = new ApiError(response.status, messageOf(response.status, parsed, text), parsed,
      path.split('?')[0]);
    if (response.status === 401 && key === undefined) onUnauthorized(error);
    throw error;
  }
  if (as === 'text') return response.text();
  if (as === 'blob') return response.blob();
  if (response.status === 204) return null;
  const text = await response.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** A request through the gateway itself (not the management API), for connection tests. */
export async function gatewayCall(path, { method = 'GET', json, clientKey } = {}) {
  const init = { method, headers: {}, cache: 'no-store', credentials: 'omit' };
  if (clientKey) init.headers.Authorization = `Bearer ${clientKey}`;
  if (json !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(json);
  }
  const started = performance.now();
  const response = await fetch(path, init);
  const text = await response.text();
  let parsed = null;
  try { parsed = JSON.parse(text); } catch { parsed = null; }
  return {
    ok: response.ok,
    status: response.status,
    ms: Math.round(performance.now() - started),
    body: parsed,
    message: response.ok ? '' : messageOf(response.status, parsed, text),
  };
}

/** The unauthenticated banner at `/` (version, models, store health when it reports one). */
export async function banner() {
  const response = await fetch('/', { headers: { Accept: 'application/json' }, cache: 'no-store' });
  if (!response.ok) throw new ApiError(response.status, `HTTP ${response.status}`, null, '/');
  return response.json();
}

/** The list inside a GET answer: `{"name": [...]}`, `{"items": [...]}` or a bare array. */
export function listOf(body, name) {
  if (Array.isArray(body)) return body;
  if (body && Array.isArray(body[name])) return body[name];
  if (body && Array.isArray(body.items)) return body.items;
  return [];
}
