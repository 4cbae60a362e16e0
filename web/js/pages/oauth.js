// OAuth logins: start a provider's flow, show its URL or device code, then follow its status.

import { api } from '../api.js';
import { actionButton, failure, field, h, replace, toast } from '../dom.js';

const PROVIDERS = [
  { id: 'claude', title: 'Claude', route: 'anthropic-auth-url' },
  { id: 'codex', title: 'Codex (ChatGPT)', route: 'codex-auth-url' },
  { id: 'gemini-cli', title: 'Gemini CLI', route: 'gemini-cli-auth-url' },
  { id: 'qwen', title: 'Qwen', route: 'qwen-auth-url' },
  { id: 'iflow', title: 'iFlow', route: 'iflow-auth-url' },
  { id: 'copilot', title: 'GitHub Copilot', route: 'copilot-auth-url' },
];
const POLL_MS = 2000;

function copyButton(text) {
  return h('button', {
    type: 'button', class: 'btn small', onclick: async () => {
      try {
        await navigator.clipboard.writeText(text);
        toast('Copied.');
      } catch {
        toast('Copy failed: select the text and copy it by hand.', 'error');
      }
    },
  }, 'Copy');
}

function pasteForm(provider, state) {
  const input = h('input', { type: 'url', autocomplete: 'off', spellcheck: 'false', placeholder: 'http://localhost:…/callback?code=…' });
  const status = h('p', { class: 'form-status', role: 'status', 'aria-live': 'polite' });
  const send = actionButton('Submit redirect URL', async () => {
    status.className = 'form-status';
    status.textContent = 'Sending…';
    try {
      await api('/oauth-callback', { method: 'POST', json: { provider: provider.id, redirect_url: input.value.trim(), state } });
      status.className = 'form-status ok';
      status.textContent = 'Sent; waiting for the server to finish the login.';
    } catch (err) {
      status.className = 'form-status error';
      status.textContent = err.message;
    }
  });
  return h('details', { class: 'paste' }, h('summary', {}, 'The browser could not reach the callback? Paste the redirect URL'),
    field('Redirect URL', input), h('div', { class: 'actions' }, send), status);
}

function startFlow(provider, box, timers) {
  return actionButton(`Sign in with ${provider.title}`, async () => {
    clearInterval(timers.get(provider.id));
    replace(box, h('p', { class: 'state state-loading', role: 'status' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), 'Starting…'));
    let started;
    try {
      started = await api(`/${provider.route}?is_webui=true`);
    } catch (err) {
      replace(box, failure(err));
      return;
    }
    const status = h('p', { class: 'form-status', role: 'status', 'aria-live': 'polite' }, 'Waiting for you to finish signing in…');
    const url = started.url || started.verification_uri || started.verification_url || '';
    const code = started.user_code || started['user-code'] || '';
    replace(box,
      url ? h('p', {}, 'Open ', h('a', { href: url, target: '_blank', rel: 'noopener noreferrer', class: 'oauth-url' }, url), ' ', copyButton(url)) : null,
      code ? h('p', {}, 'Enter this code: ', h('code', { class: 'device-code' }, code), ' ', copyButton(code)) : null,
      status,
      code ? null : pasteForm(provider, started.state));
    if (!started.state) {
      status.textContent = 'The server gave no state to follow; check Accounts once you are done.';
      return;
    }
    const poll = async () => {
      try {
        const answer = await api(`/get-auth-status?state=${encodeURIComponent(started.state)}`);
        const value = String((answer && answer.status) || 'wait');
        if (value === 'ok' || value === 'success' || value === 'done') {
          clearInterval(timers.get(provider.id));
          status.className = 'form-status ok';
          status.textContent = 'Signed in. The account is listed under Accounts.';
        } else if (value === 'error' || value === 'failed' || value === 'expired') {
          clearInterval(timers.get(provider.id));
          status.className = 'form-status error';
          status.textContent = `Login failed: ${answer.error || answer.message || value}`;
        }
      } catch (err) {
        clearInterval(timers.get(provider.id));
        status.className = 'form-status error';
        status.textContent = `Could not follow the login: ${err.message}`;
      }
    };
    timers.set(provider.id, setInterval(poll, POLL_MS));
  }, 'btn primary');
}

/** Draw the OAuth logins page; returns the cleanup that stops polling. */
export function render(main) {
  const timers = new Map();
  main.append(h('p', { class: 'muted' }, 'Each button starts the provider\'s login on the server. Finish it in the page that opens; this page follows until the account is saved.'));
  const grid = h('div', { class: 'oauth-grid' });
  for (const provider of PROVIDERS) {
    const box = h('div', { class: 'oauth-status' });
    grid.append(h('section', { class: 'card', 'data-provider': provider.id }, h('h2', {}, provider.title), startFlow(provider, box, timers), box));
  }
  main.append(grid);
  return () => {
    for (const timer of timers.values()) clearInterval(timer);
  };
}
