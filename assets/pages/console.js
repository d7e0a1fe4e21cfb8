// What the console pages share (/account, /account/keys, /account/security,
// /account/tenant, /admin):
// the signed-in user (or off to /login), the navigation, dates, confirmations in a
// modal <dialog>, copying to the clipboard, an alert per action and a live region.
import { gql, logout, refresh } from './api.js';
import { $, h, showError } from './forms.js';

/** Everything the console shows about the signed-in user. */
export const ME = `query { me { id tenantId email emailVerified firstName username role isActive
  hasSeenWelcome twoFactorEnabled createdAt } }`;

const LINKS = [
  ['/account', 'Account'],
  ['/account/keys', 'API keys'],
  ['/account/security', 'Security'],
  ['/account/tenant', 'Team'],
  ['/admin', 'Admin', (user) => user.role === 'ADMIN'],
];

/**
 * The signed-in user (the `me` query), with the navigation drawn; null when the
 * browser is not signed in (it is then on its way to /login?next=<this page>). An
 * error (the network, the server) is shown in `#console-loading` and rethrown.
 */
export async function startConsole() {
  let user;
  try {
    user = await refresh();
    if (user) user = (await gql(ME)).me;
  } catch (err) {
    const box = $('#console-loading [data-status]') || $('#console-loading');
    box?.replaceChildren(h('div', { class: 'alert', role: 'alert' }, err.message));
    throw err;
  }
  if (!user) {
    location.replace(`/login?next=${encodeURIComponent(location.pathname)}`);
    return null;
  }
  drawNav(user);
  return user;
}

function drawNav(user) {
  const nav = $('#console-nav');
  if (!nav) return;
  const here = location.pathname.replace(/\/+$/, '') || '/';
  const links = LINKS.filter(([, , shown]) => !shown || shown(user)).map(([href, label]) =>
    h('a', { href, 'aria-current': href === here ? 'page' : null }, label),
  );
  const out = h('button', { type: 'button', class: 'link-button nav-sign-out', id: 'nav-sign-out' }, 'Sign out');
  out.addEventListener('click', () => signOut(out));
  nav.replaceChildren(h('div', { class: 'nav-links' }, links), out);
  nav.hidden = false;
}

/** Signs this browser out and goes to /login (an error goes to the page's alert). */
export async function signOut(button) {
  button.disabled = true;
  try {
    await logout();
    location.replace('/login');
  } catch (err) {
    button.disabled = false;
    pageAlert(err.message);
  }
}

/** The page's own alert (#page-alert), for errors that belong to no one action. */
export function pageAlert(message) {
  const el = $('#page-alert');
  if (!el) return;
  el.textContent = message;
  el.hidden = !message;
  if (message) {
    el.setAttribute('tabindex', '-1');
    el.focus();
  }
}

/** Says `message` politely to screen readers (and shows it in #console-status). */
export function announce(message) {
  const el = $('#console-status');
  if (!el) return;
  el.textContent = '';
  // A change the screen reader notices even when the same text comes twice.
  setTimeout(() => {
    el.textContent = message;
  }, 30);
}

const DATE = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

/** A <time> for an RFC 3339 instant, or `none` (text) when there is none. */
export function when(iso, none = '—') {
  if (!iso) return document.createTextNode(none);
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return document.createTextNode(iso);
  return h('time', { datetime: iso, title: d.toISOString() }, DATE.format(d));
}

/** Facts as a <dl class="kv">: [[term, value (text or Node)], ...]. */
export function facts(rows, attrs = {}) {
  return h(
    'dl',
    { class: 'kv', ...attrs },
    rows.filter(Boolean).map(([term, value, key]) => h('div', { 'data-fact': key || null }, h('dt', {}, term), h('dd', {}, value))),
  );
}

/** After "Sign in again to ..." (a fresh sign-in is needed): a link that does it. */
function offerSignIn(el, message) {
  if (el && message && /Sign in again/i.test(message) && !el.querySelector('a')) {
    el.append(' ', h('a', { href: `/login?next=${encodeURIComponent(location.pathname)}` }, 'Sign in again'));
  }
}

/** An action's own alert (role="alert"), empty and hidden until `say(message)`. */
export function actionAlert() {
  const el = h('p', { class: 'alert', role: 'alert', hidden: true });
  el.say = (message) => {
    el.textContent = message || '';
    el.hidden = !message;
    offerSignIn(el, message);
  };
  return el;
}

/** forms.js's showError, and the "Sign in again" link when the API asks for it. */
export function showFormError(form, err, rules = []) {
  showError(form, err, rules);
  const alert = form.querySelector('[data-alert]');
  if (alert && !alert.hidden) offerSignIn(alert, err?.message);
}

/**
 * Asks before a destructive action, in a modal dialog. Resolves true (confirmed) or
 * false (cancelled, Escape). Focus goes back to what had it.
 */
export function confirmAction({ title, body, confirm = 'Confirm', danger = true }) {
  return new Promise((resolve) => {
    const before = document.activeElement;
    const yes = h('button', { type: 'submit', value: 'yes', class: danger ? 'danger' : 'primary', 'data-confirm': true }, confirm);
    const no = h('button', { type: 'submit', value: 'no', class: 'secondary', 'data-cancel': true }, 'Cancel');
    const dialog = h(
      'dialog',
      { class: 'dialog', 'aria-labelledby': 'confirm-title', 'aria-describedby': 'confirm-body' },
      h(
        'form',
        { method: 'dialog' },
        h('h2', { id: 'confirm-title' }, title),
        h('p', { id: 'confirm-body' }, body),
        h('div', { class: 'dialog-actions' }, no, yes),
      ),
    );
    dialog.addEventListener('close', () => {
      const ok = dialog.returnValue === 'yes';
      dialog.remove();
      if (before?.isConnected) before.focus();
      resolve(ok);
    });
    document.body.append(dialog);
    dialog.showModal();
    no.focus();
  });
}

/** Copies `text` to the clipboard; true when it worked. */
export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false;
  }
}

/** A "Copy" button for what `getText()` returns, saying "Copied" (or why not) after. */
export function copyButton(getText, label = 'Copy', attrs = {}) {
  const button = h('button', { type: 'button', class: 'secondary compact', ...attrs }, label);
  button.addEventListener('click', async () => {
    const ok = await copyText(getText());
    button.textContent = ok ? 'Copied' : 'Copy failed: select the text and copy it';
    announce(ok ? 'Copied to the clipboard.' : 'The browser did not allow copying; select the text and copy it yourself.');
    setTimeout(() => {
      if (button.isConnected) button.textContent = label;
    }, 2500);
  });
  return button;
}

/** Shows the section with id `id` once loaded (hides #console-loading). */
export function showConsole(id) {
  const loading = $('#console-loading');
  if (loading) loading.hidden = true;
  const el = document.getElementById(id);
  if (el) el.hidden = false;
  return el;
}

/** A badge: kind ok | warn | muted | info. */
export const badge = (text, kind = 'muted') => h('span', { class: `badge badge-${kind}` }, text);

/** Moves the focus to `el` (making it focusable first when it is not). */
export function focusOn(el) {
  if (!el) return;
  if (!el.matches('a, button, input, select, textarea, [tabindex]')) el.setAttribute('tabindex', '-1');
  el.focus();
}
