// /signup: email, password (with its rules), optional first name; then "check your
// email" and on to the account. The API's refusals show next to their field, verbatim.
import { AUTH_FIELDS, sessionGql } from './api.js';
import { $, clearErrors, destination, requireFilled, safeNext, showError, showPanel, whileBusy, wirePasswordToggles } from './forms.js';

const SIGNUP = `mutation ($email: String!, $password: String!, $firstName: String, $invitation: String) {
  signup(email: $email, password: $password, firstName: $firstName, invitationToken: $invitation) { emailVerified auth { ${AUTH_FIELDS} } }
}`;

export function init() {
  const next = safeNext();
  // From an invitation's page (/accept-invite): the account joins that team, and the
  // invitation's link has proved the address.
  const invitation = new URLSearchParams(location.search).get('invitation');
  if (next) $('#login-link').href = `/login?next=${encodeURIComponent(next)}`;
  wirePasswordToggles();

  const form = $('#signup-form');
  const email = $('#email');
  const password = $('#password');
  const firstName = $('#first-name');
  const submit = $('#signup-submit');

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors(form);
    const ok = requireFilled(form, [
      [email, 'Enter your email address.'],
      [password, 'Choose a password.'],
    ]);
    if (!ok) return;
    try {
      const data = await whileBusy(submit, 'Creating your account…', () =>
        sessionGql(SIGNUP, {
          email: email.value.trim(),
          password: password.value,
          firstName: firstName.value.trim() || null,
          invitation: invitation || null,
        }),
      );
      if (invitation) {
        location.assign('/account/tenant');
        return;
      }
      const user = data.signup.auth.user;
      $('#done-email').textContent = user.email || email.value.trim();
      $('#continue-link').href = destination(next);
      password.value = '';
      showPanel('signup-done');
    } catch (err) {
      showError(form, err, [
        [/first name/i, firstName],
        [/password/i, password],
        [/email|address|account/i, email],
      ]);
    }
  });
}
