// /account: who is signed in, the email and whether it is confirmed (a new confirmation
// link: requestEmailVerification), the profile (updateProfile: first name, username),
// a welcome note on the first visit (markWelcomeSeen), the way to the other console
// pages, and "Sign out". Not signed in: to /login?next=/account.
import { gql } from './api.js';
import { $, clearErrors, h, whileBusy } from './forms.js';
import { announce, badge, focusOn, pageAlert, showConsole, showFormError, signOut, startConsole, when } from './console.js';

const RESEND = 'mutation { requestEmailVerification }';
const WELCOMED = 'mutation { markWelcomeSeen { id hasSeenWelcome } }';
const UPDATE = `mutation ($firstName: String, $username: String) {
  updateProfile(firstName: $firstName, username: $username) { id firstName username }
}`;
const ROLES = { USER: 'User', DEVELOPER: 'Developer', ADMIN: 'Administrator' };

function greet(user) {
  $('#greeting').textContent = user.firstName ? `Hello, ${user.firstName}` : 'Your account';
}

function showFacts(user) {
  $('#account-email').textContent = user.email || 'No email address';
  $('#account-verified').replaceChildren(
    user.email && user.emailVerified
      ? h('span', { class: 'badge badge-ok' }, 'Email confirmed')
      : h('span', { class: 'badge badge-warn' }, user.email ? 'Email not confirmed' : 'No email'),
  );
  $('#account-role').textContent = ROLES[user.role] || user.role;
  $('#account-2fa').replaceChildren(
    user.twoFactorEnabled ? badge('On', 'ok') : h('a', { href: '/account/security#twofa-section' }, 'Off: turn it on'),
  );
  $('#account-since').replaceChildren(when(user.createdAt));
  $('#unverified').hidden = !user.email || user.emailVerified;
  $('#shortcut-admin').hidden = user.role !== 'ADMIN';
}

/** The first visit: a short welcome, and the API told it was seen (once). */
async function welcome(user) {
  if (user.hasSeenWelcome) return;
  const note = $('#welcome');
  $('#welcome-heading').textContent = user.firstName ? `Welcome to latchkey, ${user.firstName}` : 'Welcome to latchkey';
  note.hidden = false;
  $('#welcome-dismiss').addEventListener('click', () => {
    note.hidden = true;
    focusOn($('#greeting'));
  });
  try {
    await gql(WELCOMED);
  } catch (err) {
    // Only the note would show again next time; say so without blocking the page.
    pageAlert(err.message);
  }
}

function wireResend(user) {
  const resend = $('#resend');
  resend.addEventListener('click', async () => {
    try {
      await whileBusy(resend, 'Sending…', () => gql(RESEND));
      const sent = $('#resent');
      sent.textContent = `We sent a new link to ${user.email}. It works for 24 hours.`;
      sent.hidden = false;
      resend.hidden = true;
      focusOn(sent);
    } catch (err) {
      pageAlert(err.message);
    }
  });
}

function wireProfile(user) {
  const form = $('#profile-form');
  const first = $('#profile-first-name');
  const username = $('#profile-username');
  const save = $('#profile-save');
  const saved = $('#profile-saved');
  first.value = user.firstName || '';
  username.value = user.username || '';
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors(form);
    saved.hidden = true;
    try {
      // An empty field clears that part of the profile (updateProfile's "").
      const { updateProfile: p } = await whileBusy(save, 'Saving…', () =>
        gql(UPDATE, { firstName: first.value.trim(), username: username.value.trim() }),
      );
      first.value = p.firstName || '';
      username.value = p.username || '';
      greet(p);
      saved.textContent = 'Your profile was saved.';
      saved.hidden = false;
      announce(saved.textContent);
    } catch (err) {
      showFormError(form, err, [
        [/first name/i, first],
        [/username/i, username],
      ]);
    }
  });
}

export async function init() {
  const user = await startConsole();
  if (!user) return;
  greet(user);
  showFacts(user);
  showConsole('account-panel');
  wireResend(user);
  wireProfile(user);
  const out = $('#sign-out');
  out.addEventListener('click', () => signOut(out));
  await welcome(user);
}
