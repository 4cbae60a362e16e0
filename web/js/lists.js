// The management API's list conventions in one place: GET `{name: [...]}`, PUT the whole list,
// PATCH `{index, value}`, DELETE `?index=`.

import { api, listOf } from './api.js';

/** The items of a list route. */
export async function getList(route) {
  return listOf(await api(`/${route}`), route);
}

/** Append one item (the whole list goes back, as the reference's PUT expects). */
export async function addItem(route, value) {
  const items = await getList(route);
  return api(`/${route}`, { method: 'PUT', json: [...items, value] });
}

/** Replace the item at `index`. */
export async function updateItem(route, index, value) {
  return api(`/${route}`, { method: 'PATCH', json: { index, value } });
}

/** Delete the item at `index`. */
export async function deleteItem(route, index) {
  return api(`/${route}?index=${encodeURIComponent(index)}`, { method: 'DELETE' });
}

/** Whether a listed value is a masked secret rather than the secret itself. */
export function isMasked(value) {
  return typeof value === 'string' && /\.\.\.|[*•…]/.test(value);
}

const TEST_KEY = 'aiproxyapi.test-client-key';

/** The client key the operator chose for connection tests in this tab. */
export function testClientKey() {
  return sessionStorage.getItem(TEST_KEY) || '';
}

/** Keep the client key for connection tests in this tab only. */
export function setTestClientKey(value) {
  if (value) sessionStorage.setItem(TEST_KEY, value);
  else sessionStorage.removeItem(TEST_KEY);
}
