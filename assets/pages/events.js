// Security events (the audit log) as the console shows them: a readable name per event
// type, a short device name from a User-Agent, and one list item per event. Used by
// /account/security (myActivity) and /admin (auditLog).
import { h } from './forms.js';
import { facts, when } from './console.js';

export const EVENT_LABELS = {
  signup: 'Account created',
  login_ok: 'Signed in',
  login_failed: 'Failed sign-in',
  password_changed: 'Password changed',
  password_reset: 'Password reset',
  session_revoked: 'Session signed out',
  refresh_token_reused: 'Session ended: a refresh token was used twice',
  email_verified: 'Email confirmed',
  role_changed: 'Role changed',
  user_deactivated: 'Account deactivated',
  user_activated: 'Account activated',
  api_key_created: 'API key created',
  api_key_rotated: 'API key rotated',
  api_key_revoked: 'API key revoked',
  api_key_deleted: 'API key deleted',
  two_factor_enabled: 'Two-step verification turned on',
  two_factor_disabled: 'Two-step verification turned off',
  recovery_code_used: 'Recovery code used',
  second_factor_failed: 'Wrong two-step verification code',
  passkey_registered: 'Passkey added',
  passkey_deleted: 'Passkey deleted',
  passkey_clone_suspected: 'Passkey refused: it may have been copied',
  social_linked: 'Sign-in provider linked',
  social_unlinked: 'Sign-in provider unlinked',
  social_account_claimed: 'Account claimed through a sign-in provider',
  profile_updated: 'Profile updated',
};

/** Event types that deserve attention (shown with a warning mark). */
const ALARMING = new Set(['login_failed', 'refresh_token_reused', 'second_factor_failed', 'passkey_clone_suspected', 'social_account_claimed', 'user_deactivated']);

export const eventLabel = (type) => EVENT_LABELS[type] || type;

/** The mark of an event that deserves attention (its label says what happened). */
const mark = (alarming) => (alarming ? h('span', { class: 'event-mark', 'aria-hidden': 'true', title: 'Worth a look' }, '!') : null);

/** "Chrome on Linux", "Safari on iPhone", or the start of the User-Agent. */
export function deviceName(ua) {
  if (!ua) return 'Unknown device';
  const browser =
    (/Edg\//.test(ua) && 'Edge') ||
    (/OPR\//.test(ua) && 'Opera') ||
    (/Firefox\//.test(ua) && 'Firefox') ||
    (/(Chrome|Chromium|CriOS)\//.test(ua) && (/HeadlessChrome/.test(ua) ? 'Headless Chrome' : 'Chrome')) ||
    (/Safari\//.test(ua) && /Version\//.test(ua) && 'Safari') ||
    null;
  const os =
    (/iPhone/.test(ua) && 'iPhone') ||
    (/iPad/.test(ua) && 'iPad') ||
    (/Android/.test(ua) && 'Android') ||
    (/Windows/.test(ua) && 'Windows') ||
    (/Mac OS X|Macintosh/.test(ua) && 'macOS') ||
    (/CrOS/.test(ua) && 'ChromeOS') ||
    (/Linux/.test(ua) && 'Linux') ||
    null;
  if (browser && os) return `${browser} on ${os}`;
  if (browser || os) return browser || os;
  return ua.length > 40 ? `${ua.slice(0, 40)}…` : ua;
}

/** One event as a list item (the user's own activity). */
export function eventItem(e) {
  const alarming = ALARMING.has(e.type);
  return h(
    'li',
    { class: `event${alarming ? ' event-alarming' : ''}`, 'data-event-id': e.id, 'data-type': e.type },
    h(
      'div',
      { class: 'event-head' },
      h('span', {}, mark(alarming), h('span', { class: 'event-name' }, eventLabel(e.type))),
      when(e.at),
    ),
    facts([
      ['Type', h('code', {}, e.type), 'type'],
      ['IP address', e.ip || 'Unknown', 'ip'],
      ['Device', e.userAgent ? h('span', { title: e.userAgent }, deviceName(e.userAgent)) : 'Unknown', 'device'],
      e.detail ? ['Detail', e.detail, 'detail'] : null,
    ], { class: 'kv kv-compact' }),
  );
}

/** One event as a table row (the admin's audit log). */
export function eventRow(e) {
  const alarming = ALARMING.has(e.type);
  const cell = (label, ...children) => h('td', { 'data-label': label }, ...children);
  return h(
    'tr',
    { class: alarming ? 'event-alarming' : null, 'data-event-id': e.id, 'data-type': e.type },
    cell('When', when(e.at)),
    cell('Event', h('span', {}, mark(alarming), h('span', { class: 'event-name' }, eventLabel(e.type))), h('div', { class: 'hint' }, h('code', {}, e.type))),
    cell('User', e.userId ? h('code', {}, e.userId) : 'None'),
    cell('IP address', e.ip || 'Unknown'),
    cell('Device', e.userAgent ? h('span', { title: e.userAgent }, deviceName(e.userAgent)) : 'Unknown'),
    cell('Detail', e.detail || '—'),
  );
}

export const EVENT_FIELDS = 'id type userId tenantId ip userAgent detail at';
