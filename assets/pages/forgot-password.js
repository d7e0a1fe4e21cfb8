// /forgot-password: requestPasswordReset, then the same answer whether or not an
// account has the address.
import { gql } from './api.js';
import { $, clearErrors, requireFilled, showError, showPanel, whileBusy } from './forms.js';

const REQUEST = 'mutation ($email: String!) { requestPasswordReset(email: $email) }';

export function init() {
  const form = $('#forgot-form');
  const email = $('#email');
  const submit = $('#forgot-submit');

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors(form);
    if (!requireFilled(form, [[email, 'Enter your email address.']])) return;
    try {
      await whileBusy(submit, 'Sending…', () => gql(REQUEST, { email: email.value.trim() }));
      $('#sent-email').textContent = email.value.trim();
      showPanel('forgot-sent');
    } catch (err) {
      showError(form, err, [[/email|address/i, email]]);
    }
  });

  $('#again').addEventListener('click', () => {
    showPanel('forgot-panel');
    email.select();
    email.focus();
  });
}
