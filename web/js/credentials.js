// What state a credential (an auth file as the management API lists it) is in.

function toMs(value) {
  if (value === undefined || value === null || value === '') return 0;
  if (typeof value === 'number') return value < 1e12 ? value * 1000 : value;
  const parsed = Date.parse(value);
  return Number.isNaN(parsed) ? 0 : parsed;
}

/** When the credential's cooldown ends (ms), 0 when it is not cooling. */
export function cooldownUntil(file) {
  const direct = toMs(file.next_retry_after ?? file.cooldown_until ?? file.next_retry ?? file['next-retry-after']);
  const models = file.cooldowns || file.model_states || {};
  let latest = direct;
  for (const state of Object.values(models)) {
    if (state && typeof state === 'object') {
      latest = Math.max(latest, toMs(state.next_retry_after ?? state.until ?? state.cooldown_until));
    }
  }
  return latest > Date.now() ? latest : 0;
}

/** 'disabled', 'error', 'cooling' or 'healthy'. */
export function credentialState(file) {
  const status = String(file.status || '').toLowerCase();
  if (file.disabled || status === 'disabled') return 'disabled';
  if (status === 'error' || status === 'failed' || status === 'invalid') return 'error';
  if (status === 'cooling' || status === 'cooldown' || file.unavailable || cooldownUntil(file)) return 'cooling';
  return 'healthy';
}

/** Counts per state. */
export function countStates(files) {
  const counts = { healthy: 0, cooling: 0, error: 0, disabled: 0 };
  for (const file of files) counts[credentialState(file)] += 1;
  return counts;
}

export const STATE_LABEL = { healthy: 'Healthy', cooling: 'Cooling down', error: 'In error', disabled: 'Disabled' };
