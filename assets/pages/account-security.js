// /account/security: the password (changePassword), two-step verification
// (security-2fa.js), passkeys (security-passkeys.js), linked providers
// (security-providers.js), sessions (security-sessions.js) and the recent security
// activity (security-activity.js). Each section loads on its own: one that fails says
// so in place and the others still work.
import { gql } from './api.js';
import { $, clearErrors, h, requireFilled, wirePasswordToggles, whileBusy } from './forms.js';
import { announce, showConsole, showFormError, startConsole } from './console.js';
import { PROVIDERS } from './social.js';
import { initTwoFactor } from './security-2fa.js';
import { initPasskeys } from './security-passkeys.js';
import { initProviders } from './security-providers.js';
import { initSessions } from './security-sessions.js';
import { initActivity } from './security-activity.js';

const CHANGE_PASSWORD = 'mutation ($current: String!, $next: String!) { changePassword(currentPassword: $current, newPassword: $next) }';

function wirePassword(user) {
  const form = $('#password-form');
  const current = $('#current-password');
  const next = $('#new-password');
  const submit = $('#password-submit');
  const done = $('#password-done');
  $('#password-username').value = user.email || '';
  wirePasswordToggles(form);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors(form);
    done.hidden = true;
    const ok = requireFilled(form, [
      [current, 'Enter your current password.'],
      [next, 'Enter a new password.'],
    ]);
    if (!ok) return;
    try {
      await whileBusy(submit, 'Changing…', () => gql(CHANGE_PASSWORD, { current: current.value, next: next.value }));
      form.reset();
      $('#password-username').value = user.email || '';
      done.textContent = 'Your password was changed. Your other sessions were signed out.';
      done.hidden = false;
      done.setAttribute('tabindex', '-1');
      done.focus();
      document.dispatchEvent(new CustomEvent('security:changed'));
    } catch (err) {
      showFormError(form, err, [
        [/current password/i, current],
        [/password/i, next],
      ]);
    }
  });
}

/** A section that failed to load: its error in place of its contents. */
async function section(container, load) {
  try {
    await load(container);
  } catch (err) {
    container.replaceChildren(h('p', { class: 'alert', role: 'alert' }, err.message));
  }
}

/** "GitHub is now linked" after the callback page finished a link (?linked=github). */
function flash() {
  const params = new URLSearchParams(location.search);
  const linked = params.get('linked');
  if (!linked) return;
  history.replaceState(null, '', location.pathname);
  const p = Object.hasOwn(PROVIDERS, linked) ? PROVIDERS[linked] : null;
  if (!p) return;
  const el = $('#security-flash');
  el.textContent = `${p.name} is now linked to your account: you can sign in with it.`;
  el.hidden = false;
  announce(el.textContent);
}

export async function init() {
  const user = await startConsole();
  if (!user) return;
  showConsole('security-page');
  wirePassword(user);
  flash();
  initTwoFactor(user, $('#twofa-body'));
  await Promise.all([
    section($('#passkeys-body'), initPasskeys),
    section($('#providers-body'), initProviders),
    section($('#sessions-body'), initSessions),
    section($('#activity-body'), initActivity),
  ]);
  if (location.hash) document.getElementById(decodeURIComponent(location.hash.slice(1)))?.scrollIntoView();
}
