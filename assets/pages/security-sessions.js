// /account/security, "Where you are signed in": the user's live sessions (sessions),
// this browser's marked, signing one out (revokeSession) and every other one
// (revokeOtherSessions).
import { gql } from './api.js';
import { h, whileBusy } from './forms.js';
import { actionAlert, announce, badge, confirmAction, facts, focusOn, pageAlert, when } from './console.js';
import { deviceName } from './events.js';

const LIST = 'query { sessions { id createdAt lastUsedAt expiresAt ip userAgent current } }';
const REVOKE = 'mutation ($id: ID!) { revokeSession(id: $id) }';
const REVOKE_OTHERS = 'mutation { revokeOtherSessions }';

let body;
let alert;

function sessionItem(s) {
  const itemAlert = actionAlert();
  const title = h('h3', { id: `session-${s.id}-name` }, deviceName(s.userAgent));
  const actions = h('div', { class: 'item-actions' });
  if (!s.current) {
    const out = h('button', { type: 'button', class: 'danger-outline compact', 'data-action': 'revoke', 'aria-describedby': title.id }, 'Sign out');
    out.addEventListener('click', async () => {
      itemAlert.say('');
      const ok = await confirmAction({
        title: `Sign out ${deviceName(s.userAgent)}?`,
        body: `The session from ${s.ip || 'an unknown address'} ends at once; signing in there again will need your password.`,
        confirm: 'Sign out',
      });
      if (!ok) return;
      try {
        await whileBusy(out, 'Signing out…', () => gql(REVOKE, { id: s.id }));
        await load();
        announce(`${deviceName(s.userAgent)} was signed out.`);
        focusOn(document.getElementById('sessions-heading'));
      } catch (err) {
        itemAlert.say(err.message);
        focusOn(itemAlert);
      }
    });
    actions.append(out);
  }
  return h(
    'li',
    { class: `item${s.current ? ' item-current' : ''}`, 'data-session-id': s.id, 'data-current': String(s.current), 'aria-labelledby': title.id },
    h('div', { class: 'item-head' }, title, s.current ? badge('This device', 'info') : null),
    facts([
      ['IP address', s.ip || 'Unknown', 'ip'],
      ['Signed in', when(s.createdAt), 'created'],
      ['Last active', when(s.lastUsedAt), 'last-used'],
      ['Expires', when(s.expiresAt), 'expires'],
    ]),
    s.userAgent ? h('p', { class: 'hint ua' }, s.userAgent) : null,
    s.current ? h('p', { class: 'hint' }, 'To end this session, use “Sign out” at the top of the page.') : null,
    itemAlert,
    actions,
  );
}

async function signOutOthers(button, others) {
  alert.say('');
  const ok = await confirmAction({
    title: 'Sign out everywhere else?',
    body: `${others.length} other ${others.length === 1 ? 'session ends' : 'sessions end'} at once. This browser stays signed in.`,
    confirm: 'Sign out everywhere else',
  });
  if (!ok) return;
  try {
    // One operation: every other session ends at once, whichever started meanwhile.
    await whileBusy(button, 'Signing out…', () => gql(REVOKE_OTHERS));
    await load();
    announce('Every other session was signed out.');
    focusOn(document.getElementById('sessions-heading'));
  } catch (err) {
    await load().catch(() => {});
    alert.say(err.message);
    focusOn(alert);
  }
}

async function load() {
  const { sessions } = await gql(LIST);
  const others = sessions.filter((s) => !s.current);
  const all = h('button', { type: 'button', class: 'secondary', id: 'sessions-revoke-others', disabled: others.length === 0 }, 'Sign out everywhere else');
  all.addEventListener('click', () => signOutOthers(all, others));
  body.replaceChildren(
    h('p', { class: 'hint', id: 'sessions-count' }, `${sessions.length} ${sessions.length === 1 ? 'session' : 'sessions'}, newest first.`),
    h('ul', { class: 'items', id: 'sessions' }, sessions.map(sessionItem)),
    alert,
    all,
  );
}

export async function initSessions(container) {
  body = container;
  alert = actionAlert();
  await load();
  // Turning two-step verification on signs the other sessions out.
  document.addEventListener('security:changed', () => load().catch((err) => pageAlert(err.message)));
}
