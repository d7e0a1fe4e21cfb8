// /verify-email?token=: confirmEmailVerification when the person presses "Confirm my
// email" (not on load: a mail scanner that follows links confirms nothing), with
// "Confirming..." meanwhile; then done, or why not and the next step: a new link
// (requestEmailVerification) when this browser is signed in, else sign in first.
import { gql, refresh } from './api.js';
import { $, config, showPanel, whileBusy } from './forms.js';

const CONFIRM = 'mutation ($token: String!) { confirmEmailVerification(token: $token) }';
const RESEND = 'mutation { requestEmailVerification }';

/** The signed-in user, or null (also when the session cannot be checked). */
async function currentUser() {
  try {
    return await refresh();
  } catch {
    return null;
  }
}

async function failed(message, linkRefused = true) {
  if (!linkRefused) $('#failed-heading').textContent = 'Your email is not confirmed yet';
  $('#failed-message').textContent = message;
  showPanel('verify-failed');
  const user = await currentUser();
  const nextStep = $('#failed-next');
  if (!user) {
    nextStep.textContent = 'Sign in, and send yourself a new link from your account.';
    $('#failed-sign-in').hidden = false;
    return;
  }
  const account = $('#failed-account');
  account.href = config().appUrl || '/account';
  account.hidden = false;
  if (user.emailVerified) {
    // Nothing is wrong for this person: say so first, calmly.
    $('#failed-notice').classList.replace('notice-error', 'notice-ok');
    $('#failed-icon').textContent = '✓';
    $('#failed-heading').textContent = 'Your email is already confirmed';
    nextStep.textContent = `${user.email} is confirmed, so there is nothing left to do.`;
    account.classList.replace('secondary', 'primary');
    return;
  }
  nextStep.textContent = `You are signed in as ${user.email}. Send yourself a new link: it replaces the older ones.`;
  const resend = $('#resend');
  resend.hidden = false;
  resend.addEventListener('click', async () => {
    const error = $('#resend-error');
    error.hidden = true;
    try {
      await whileBusy(resend, 'Sending…', () => gql(RESEND));
      const sent = $('#resent');
      sent.textContent = `We sent a new link to ${user.email}. It works for 24 hours.`;
      sent.hidden = false;
      resend.hidden = true;
    } catch (err) {
      error.textContent = err.message;
      error.hidden = false;
    }
  });
}

export async function init() {
  const token = new URLSearchParams(location.search).get('token') || '';
  if (!token) {
    await failed('This link is incomplete: it has no token. Open the link from the email again.');
    return;
  }
  const button = $('#confirm');
  button.focus();
  await new Promise((resolve) => button.addEventListener('click', resolve, { once: true }));
  showPanel('verify-checking');
  try {
    await gql(CONFIRM, { token });
  } catch (err) {
    const linkRefused = err.code === 'BAD_USER_INPUT' || err.code === 'NOT_FOUND';
    await failed(linkRefused ? err.message : `${err.message} Reload the page to try the link again.`, linkRefused);
    return;
  }
  const user = await currentUser();
  const next = $('#done-next');
  if (user) {
    next.textContent = 'Continue to your account';
    next.href = config().appUrl || '/account';
  } else {
    next.textContent = 'Sign in';
    next.href = '/login';
  }
  showPanel('verify-done');
}
