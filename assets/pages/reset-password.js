// /reset-password?token=: validatePasswordResetToken first, then the new password
// (confirmPasswordReset), then "sign in".
import { gql } from './api.js';
import { $, clearErrors, h, requireFilled, setStatus, showError, showPanel, whileBusy, wirePasswordToggles } from './forms.js';

const VALIDATE = 'query ($token: String!) { validatePasswordResetToken(token: $token) }';
const CONFIRM = 'mutation ($token: String!, $password: String!) { confirmPasswordReset(token: $token, newPassword: $password) }';

function invalid(message) {
  if (message) $('#invalid-message').textContent = message;
  showPanel('reset-invalid');
}

export async function init() {
  const token = new URLSearchParams(location.search).get('token') || '';
  wirePasswordToggles();
  const form = $('#reset-form');
  const password = $('#password');
  const submit = $('#reset-submit');

  if (!token) {
    invalid('This link is incomplete: it has no token. Open the link from the email again, or ask for a new one.');
    return;
  }

  setStatus($('#checking-status'), 'Checking the link…');
  try {
    const { validatePasswordResetToken: valid } = await gql(VALIDATE, { token });
    if (!valid) {
      invalid();
      return;
    }
  } catch (err) {
    $('#checking-status').replaceChildren();
    $('#checking-status').append(h('div', { class: 'alert', role: 'alert' }, err.message));
    return;
  }
  showPanel('reset-panel');
  password.focus();

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors(form);
    if (!requireFilled(form, [[password, 'Choose a new password.']])) return;
    try {
      await whileBusy(submit, 'Saving…', () => gql(CONFIRM, { token, password: password.value }));
      password.value = '';
      showPanel('reset-done');
    } catch (err) {
      if (/link/i.test(err.message) && err.code === 'BAD_USER_INPUT' && !/password must|too common/i.test(err.message)) {
        invalid(err.message);
        return;
      }
      showError(form, err, [[/password/i, password]]);
    }
  });
}
