// /login: email and password, a passkey (button and autofill), the configured social
// providers, and the second step when the account has two-factor authentication on.
import { LOGIN_RESULT, sessionGql } from './api.js';
import {
  $,
  clearErrors,
  config,
  destination,
  requireFilled,
  safeNext,
  setAlert,
  showError,
  showPanel,
  whileBusy,
  wirePasswordToggles,
} from './forms.js';
import { renderProviderButtons, startSocial } from './social.js';
import { showSecondFactor } from './twofactor.js';
import { conditionalSupported, passkeysSupported, signInWithPasskey } from './webauthn.js';

const LOGIN = `mutation ($email: String!, $password: String!) {
  login(email: $email, password: $password) { ${LOGIN_RESULT} }
}`;

let autofill = null; // the AbortController of the pending autofill (conditional) request

function signedIn() {
  location.assign(destination());
}

/** A LoginResult: go on, or ask for the second factor. */
export function continueLogin(result, { restartHref = location.pathname + location.search } = {}) {
  if (result?.__typename === 'TwoFactorRequired') {
    stopAutofill();
    const panel = document.getElementById('second-factor');
    showPanel('second-factor');
    showSecondFactor(panel, result, signedIn, { restartHref });
    return;
  }
  signedIn();
}

function stopAutofill() {
  if (autofill) {
    autofill.abort();
    autofill = null;
  }
}

/** Offers passkeys in the email field's autofill; signs in when the user picks one. */
async function startAutofill() {
  if (!(await conditionalSupported())) return;
  autofill = new AbortController();
  try {
    const payload = await signInWithPasskey({ conditional: true, signal: autofill.signal });
    autofill = null;
    continueLogin({ __typename: 'AuthPayload', ...payload });
  } catch (err) {
    if (err.code === 'ABORTED') return;
    autofill = null;
    if (err.stage === 'challenge' || err.code === 'BROWSER') {
      // No autofill (a rate limit, the network): the form and the passkey button still
      // work, and say what is wrong when used.
      console.warn('passkey autofill:', err.message);
      return;
    }
    setAlert(null, err.message); // the server refused the passkey the person picked
    startAutofill();
  }
}

export function init() {
  const next = safeNext();
  if (next) {
    $('#signup-link').href = `/signup?next=${encodeURIComponent(next)}`;
  }
  wirePasswordToggles();

  const form = $('#login-form');
  const email = $('#email');
  const password = $('#password');
  const submit = $('#login-submit');
  const pageAlert = $('#page-alert');

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors(form);
    const ok = requireFilled(form, [
      [email, 'Enter your email address.'],
      [password, 'Enter your password.'],
    ]);
    if (!ok) return;
    try {
      const data = await whileBusy(submit, 'Signing in…', () =>
        sessionGql(LOGIN, { email: email.value.trim(), password: password.value }),
      );
      continueLogin(data.login);
    } catch (err) {
      showError(form, err, [
        [/password/i, password],
        [/email|address|account/i, email],
      ]);
    }
  });

  const passkeyButton = $('#passkey-button');
  const hasPasskeys = passkeysSupported();
  passkeyButton.hidden = !hasPasskeys;
  passkeyButton.addEventListener('click', async () => {
    clearErrors(form);
    stopAutofill();
    try {
      const payload = await whileBusy(passkeyButton, 'Waiting for your passkey…', () => signInWithPasskey());
      continueLogin({ __typename: 'AuthPayload', ...payload });
    } catch (err) {
      setAlert(null, err.message);
      pageAlert.setAttribute('tabindex', '-1');
      pageAlert.focus();
      startAutofill();
    }
  });

  const count = renderProviderButtons($('#providers'), config().providers, async (provider, button) => {
    clearErrors(form);
    stopAutofill();
    try {
      await whileBusy(button, 'Redirecting…', () => startSocial(provider, next));
    } catch (err) {
      setAlert(null, err.message);
      pageAlert.setAttribute('tabindex', '-1');
      pageAlert.focus();
    }
  });
  $('#other-ways').hidden = !hasPasskeys && count === 0;

  if (hasPasskeys) startAutofill();
}
