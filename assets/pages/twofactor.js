// The second step of a sign-in when the account has two-factor authentication on
// (LoginResult = TwoFactorRequired): a code from the authenticator app, or a recovery
// code, sent to verify_2fa_code through /session/graphql. Used by /login and by the
// social sign-in's callback page.
import { AUTH_FIELDS, sessionGql } from './api.js';
import { clearErrors, h, requireFilled, showError, whileBusy } from './forms.js';

const VERIFY = `mutation ($userId: ID!, $token: String!, $mfaToken: String) {
  verify_2fa_code(user_id: $userId, token: $token, mfa_token: $mfaToken) { ${AUTH_FIELDS} }
}`;

const MODES = {
  totp: {
    label: 'Authentication code',
    hint: 'Open your authenticator app and enter the 6-digit code it shows for this account.',
    inputmode: 'numeric',
    autocomplete: 'one-time-code',
    maxlength: '6',
    empty: 'Enter the 6-digit code from your authenticator app.',
    switchText: 'Use a recovery code instead',
  },
  recovery_code: {
    label: 'Recovery code',
    hint: 'Enter one of the recovery codes you saved when you turned on two-step verification. Each works once.',
    inputmode: 'text',
    autocomplete: 'off',
    maxlength: '64',
    empty: 'Enter one of your recovery codes.',
    switchText: 'Use the authenticator app instead',
  },
};

/**
 * Replaces `container`'s contents with the second-factor form for `challenge`
 * ({ userId, mfaToken, methods }); calls `onSignedIn(authPayload)` once the code is
 * accepted. `restartHref`: where "Start over" goes.
 */
export function showSecondFactor(container, challenge, onSignedIn, { restartHref = '/login' } = {}) {
  const methods = Array.isArray(challenge.methods) && challenge.methods.length ? challenge.methods : ['totp'];
  let mode = methods.includes('totp') ? 'totp' : methods[0];

  const alert = h('div', { class: 'alert', role: 'alert', 'data-alert': true, hidden: true });
  const label = h('label', { for: 'mfa-code' });
  const hint = h('p', { class: 'hint', id: 'mfa-code-hint' });
  const error = h('p', { class: 'field-error', id: 'mfa-code-error' });
  const input = h('input', {
    id: 'mfa-code',
    name: 'code',
    type: 'text',
    class: 'code-input',
    spellcheck: 'false',
    autocapitalize: 'off',
    required: true,
    'aria-describedby': 'mfa-code-hint mfa-code-error',
  });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Verify');
  const switcher = h('button', { type: 'button', class: 'link-button', id: 'mfa-switch' });
  const heading = h('h1', { id: 'mfa-heading', tabindex: '-1' }, 'Two-step verification');
  const form = h(
    'form',
    { id: 'mfa-form', novalidate: true, 'aria-labelledby': 'mfa-heading' },
    heading,
    h('p', { class: 'lead' }, 'Your account is protected with a second step. Confirm it is you to finish signing in.'),
    alert,
    h('div', { class: 'field' }, label, input, hint, error),
    submit,
    h('div', { class: 'actions' }, methods.length > 1 ? switcher : null),
    h('p', { class: 'alt' }, h('a', { href: restartHref }, 'Start over')),
  );

  function applyMode() {
    const m = MODES[mode] || MODES.totp;
    label.textContent = m.label;
    hint.textContent = m.hint;
    input.setAttribute('inputmode', m.inputmode);
    input.setAttribute('autocomplete', m.autocomplete);
    input.setAttribute('maxlength', m.maxlength);
    input.value = '';
    switcher.textContent = m.switchText;
    clearErrors(form);
  }

  switcher.addEventListener('click', () => {
    mode = mode === 'totp' ? 'recovery_code' : 'totp';
    applyMode();
    input.focus();
  });

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors(form);
    if (!requireFilled(form, [[input, (MODES[mode] || MODES.totp).empty]])) return;
    const token = mode === 'totp' ? input.value.replace(/\s+/g, '') : input.value.trim();
    try {
      const data = await whileBusy(submit, 'Verifying…', () =>
        sessionGql(VERIFY, { userId: challenge.userId, token, mfaToken: challenge.mfaToken }),
      );
      onSignedIn(data.verify_2fa_code);
    } catch (err) {
      showError(form, err, [[/code|token|verif/i, input]]);
    }
  });

  applyMode();
  container.replaceChildren(form);
  container.hidden = false;
  input.focus();
  return form;
}
