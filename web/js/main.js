// The panel's shell: navigation, the hash router, and the login gate in front of every page.

import { clearKey, getKey, setUnauthorizedHandler } from './api.js';
import { h, replace } from './dom.js';
import * as accounts from './pages/accounts.js';
import * as config from './pages/config.js';
import * as dashboard from './pages/dashboard.js';
import * as keys from './pages/keys.js';
import * as login from './pages/login.js';
import * as logs from './pages/logs.js';
import * as oauth from './pages/oauth.js';
import * as providers from './pages/providers.js';
import * as usage from './pages/usage.js';

const PAGES = [
  ['dashboard', 'Dashboard', dashboard],
  ['providers', 'Providers', providers],
  ['keys', 'Client keys', keys],
  ['accounts', 'Accounts', accounts],
  ['oauth', 'OAuth logins', oauth],
  ['config', 'Config', config],
  ['logs', 'Logs', logs],
  ['usage', 'Usage', usage],
];

let cleanup = null;
let loginNotice = '';

function route() {
  const hash = location.hash;
  const name = hash.startsWith('#/') ? hash.slice(2).split('?')[0] : '';
  return name || 'dashboard';
}

function navigate(name) {
  if (location.hash !== `#/${name}`) location.hash = `#/${name}`;
  else render();
}

function shell(current) {
  const nav = h('nav', { id: 'nav', class: 'nav', 'aria-label': 'Sections' },
    h('ul', {}, PAGES.map(([name, label]) => h('li', {},
      h('a', { href: `#/${name}`, 'aria-current': name === current ? 'page' : null }, label)))));
  const toggle = h('button', {
    type: 'button', class: 'nav-toggle', 'aria-controls': 'nav', 'aria-expanded': 'false',
    onclick: () => {
      const open = nav.classList.toggle('open');
      toggle.setAttribute('aria-expanded', String(open));
    },
  }, h('span', { 'aria-hidden': 'true' }, '☰'), h('span', { class: 'sr-only' }, 'Menu'));
  const signOut = h('button', {
    type: 'button', class: 'btn ghost small', onclick: () => {
      clearKey();
      loginNotice = 'Signed out.';
      navigate('login');
    },
  }, 'Sign out');
  const header = h('header', { class: 'topbar' },
    toggle, h('a', { class: 'brand', href: '#/dashboard' }, 'aiproxyapi'), h('span', { class: 'grow' }), signOut);
  const main = h('main', { id: 'main', class: 'main', tabindex: '-1' });
  return { header, nav, main };
}

function render() {
  if (cleanup) {
    try { cleanup(); } catch { /* a page's cleanup never blocks the next page */ }
    cleanup = null;
  }
  const app = document.getElementById('app');
  const name = route();
  if (!getKey() || name === 'login') {
    replace(app, h('main', { id: 'main', class: 'main login-main', tabindex: '-1' }));
    const notice = loginNotice;
    loginNotice = '';
    cleanup = login.render(document.getElementById('main'), {
      notice,
      done: () => navigate(name === 'login' ? 'dashboard' : name),
    });
    document.title = 'Sign in · aiproxyapi';
    return;
  }
  const page = PAGES.find(([key]) => key === name) || PAGES[0];
  const { header, nav, main } = shell(page[0]);
  replace(app, header, h('div', { class: 'layout' }, nav, main));
  document.title = `${page[1]} · aiproxyapi`;
  main.append(h('h1', {}, page[1]));
  cleanup = page[2].render(main, { navigate }) || null;
  main.focus({ preventScroll: true });
}

setUnauthorizedHandler(() => {
  clearKey();
  loginNotice = 'The server refused the management key. Sign in again.';
  navigate('login');
});

window.addEventListener('hashchange', () => {
  if (location.hash === '' || location.hash.startsWith('#/')) render();
});
render();
