// /account/security, "Two-step verification": set up (generate_2fa: a QR code and the
// key for manual entry; enable_2fa with a code), the ten recovery codes shown once (copy,
// download as a .txt file), new recovery codes (regenerateRecoveryCodes) and turning it
// off (disable_2fa), both with a current code or a recovery code.
import { gql } from './api.js';
import { clearErrors, h, requireFilled, whileBusy } from './forms.js';
import { actionAlert, showFormError, announce, badge, confirmAction, copyButton, focusOn } from './console.js';

const GENERATE = 'mutation { generate_2fa { secret otpauthUrl qrCodePng } }';
const ENABLE = 'mutation ($token: String!) { enable_2fa(token: $token) { enabled recoveryCodes } }';
const DISABLE = 'mutation ($token: String!) { disable_2fa(token: $token) }';
const REGENERATE = 'mutation ($token: String!) { regenerateRecoveryCodes(token: $token) }';

let body;
let state; // { enabled, email }

const changed = () => document.dispatchEvent(new CustomEvent('security:changed'));

function heading(text, id) {
  return h('h3', { id, tabindex: '-1' }, text);
}

function codeField(id, label, hint) {
  return h(
    'div',
    { class: 'field' },
    h('label', { for: id }, label),
    h('input', {
      id,
      name: 'code',
      type: 'text',
      class: 'code-input',
      autocomplete: 'one-time-code',
      spellcheck: 'false',
      autocapitalize: 'off',
      maxlength: '64',
      required: true,
      'aria-describedby': `${id}-hint ${id}-error`,
    }),
    h('p', { class: 'hint', id: `${id}-hint` }, hint),
    h('p', { class: 'field-error', id: `${id}-error` }),
  );
}

function renderOff() {
  const alert = actionAlert();
  const start = h('button', { type: 'button', class: 'primary', id: 'twofa-start' }, 'Set up two-step verification');
  start.addEventListener('click', async () => {
    alert.say('');
    try {
      const { generate_2fa: setup } = await whileBusy(start, 'Preparing…', () => gql(GENERATE));
      renderSetup(setup);
    } catch (err) {
      alert.say(err.message);
      focusOn(alert);
    }
  });
  body.replaceChildren(
    h('p', { id: 'twofa-state' }, badge('Off', 'warn'), ' Add a second step to password sign-ins: a 6-digit code from an authenticator app (Google Authenticator, 1Password, Authy…).'),
    alert,
    start,
  );
}

function renderSetup(setup) {
  const grouped = setup.secret.match(/.{1,4}/g).join(' ');
  const field = codeField('totp-code', '3. Enter the 6-digit code the app shows', 'This confirms the app is set up. Codes change every 30 seconds.');
  const input = field.querySelector('input');
  input.setAttribute('inputmode', 'numeric');
  input.setAttribute('maxlength', '8');
  const submit = h('button', { type: 'submit', class: 'primary', id: 'totp-enable' }, 'Turn on two-step verification');
  const cancel = h('button', { type: 'button', class: 'secondary', id: 'totp-cancel' }, 'Cancel');
  const form = h(
    'form',
    { id: 'totp-setup', novalidate: true, 'aria-labelledby': 'totp-setup-heading' },
    heading('Set up your authenticator app', 'totp-setup-heading'),
    h('div', { class: 'alert', role: 'alert', 'data-alert': true, hidden: true }),
    h('p', {}, '1. Scan this QR code with your authenticator app:'),
    h('img', { class: 'qr', id: 'totp-qr', src: `data:image/png;base64,${setup.qrCodePng}`, width: 200, height: 200, alt: 'QR code with your two-step verification key (the same key is written below)' }),
    h('p', { id: 'totp-secret-label' }, '2. Or, if you cannot scan it, enter this key in the app:'),
    h('div', { class: 'secret-box' }, h('code', { id: 'totp-secret', class: 'secret', 'aria-labelledby': 'totp-secret-label' }, grouped), copyButton(() => setup.secret, 'Copy key', { id: 'totp-secret-copy' })),
    field,
    h('div', { class: 'item-actions' }, submit, cancel),
  );
  cancel.addEventListener('click', () => {
    renderOff();
    focusOn(body.querySelector('#twofa-start'));
  });
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors(form);
    if (!requireFilled(form, [[input, 'Enter the 6-digit code from your authenticator app.']])) return;
    try {
      const { enable_2fa: result } = await whileBusy(submit, 'Checking…', () => gql(ENABLE, { token: input.value.replace(/\s+/g, '') }));
      state.enabled = true;
      changed();
      showRecoveryCodes(result.recoveryCodes, 'Two-step verification is on', 'Your other sessions were signed out. If you lose your phone, these codes let you in: each works once.');
    } catch (err) {
      showFormError(form, err, [[/code|token/i, input]]);
    }
  });
  body.replaceChildren(form);
  focusOn(form.querySelector('h3'));
}

/** The codes, once: copy them, download them; "Done" takes them off the page. */
function showRecoveryCodes(codes, title, intro) {
  const text = `latchkey recovery codes for ${state.email || 'your account'}\n(each works once)\n\n${codes.join('\n')}\n`;
  const download = h('button', { type: 'button', class: 'secondary compact', id: 'codes-download' }, 'Download .txt');
  download.addEventListener('click', () => {
    const url = URL.createObjectURL(new Blob([text], { type: 'text/plain' }));
    const a = h('a', { href: url, download: 'latchkey-recovery-codes.txt', hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
    announce('The recovery codes were downloaded as latchkey-recovery-codes.txt.');
  });
  const done = h('button', { type: 'button', class: 'primary', id: 'codes-done' }, 'Done: I have saved them');
  const box = h(
    'div',
    { id: 'recovery-box', role: 'region', 'aria-labelledby': 'recovery-heading' },
    heading(title, 'recovery-heading'),
    h('p', {}, intro),
    h('p', { class: 'warning' }, h('strong', {}, 'Save these recovery codes now: you will not see them again.')),
    h('ol', { class: 'codes', id: 'recovery-codes' }, codes.map((c) => h('li', {}, h('code', {}, c)))),
    h('div', { class: 'item-actions' }, copyButton(() => codes.join('\n'), 'Copy all', { id: 'codes-copy' }), download),
    done,
  );
  const forget = () => {
    codes = [];
    box.remove();
    window.removeEventListener('pagehide', forget);
  };
  window.addEventListener('pagehide', forget);
  done.addEventListener('click', () => {
    forget();
    renderOn();
    focusOn(body.querySelector('#twofa-state'));
  });
  body.replaceChildren(box);
  focusOn(box.querySelector('h3'));
}

function renderOn() {
  const field = codeField('twofa-manage-code', 'Code from your authenticator app, or a recovery code', 'Needed to get new recovery codes or to turn two-step verification off.');
  const input = field.querySelector('input');
  const regen = h('button', { type: 'submit', class: 'secondary compact', id: 'codes-regenerate' }, 'Get new recovery codes');
  const off = h('button', { type: 'button', class: 'danger-outline compact', id: 'twofa-disable' }, 'Turn off');
  const form = h(
    'form',
    { id: 'twofa-manage', novalidate: true, 'aria-labelledby': 'twofa-heading' },
    h('p', { id: 'twofa-state' }, badge('On', 'ok'), ' Sign-ins with your password also ask for a code from your authenticator app.'),
    h('div', { class: 'alert', role: 'alert', 'data-alert': true, hidden: true }),
    field,
    h('div', { class: 'item-actions' }, regen, off),
  );
  const token = () => input.value.trim().replace(/^(\d{3})\s+(\d{3})$/, '$1$2');
  const check = () => {
    clearErrors(form);
    return requireFilled(form, [[input, 'Enter a code from your authenticator app or one of your recovery codes.']]);
  };
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!check()) return;
    try {
      const { regenerateRecoveryCodes: codes } = await whileBusy(regen, 'Generating…', () => gql(REGENERATE, { token: token() }));
      changed();
      showRecoveryCodes(codes, 'New recovery codes', 'Your old recovery codes no longer work.');
    } catch (err) {
      showFormError(form, err, [[/code|token/i, input]]);
    }
  });
  off.addEventListener('click', async () => {
    if (!check()) return;
    const ok = await confirmAction({
      title: 'Turn off two-step verification?',
      body: 'Your password alone will then sign you in, and your recovery codes stop working.',
      confirm: 'Turn off',
    });
    if (!ok) return;
    try {
      await whileBusy(off, 'Turning off…', () => gql(DISABLE, { token: token() }));
      state.enabled = false;
      changed();
      renderOff();
      announce('Two-step verification is off.');
      focusOn(body.querySelector('#twofa-start'));
    } catch (err) {
      showFormError(form, err, [[/code|token/i, input]]);
    }
  });
  body.replaceChildren(form);
}

export function initTwoFactor(user, container) {
  body = container;
  state = { enabled: user.twoFactorEnabled, email: user.email };
  if (state.enabled) renderOn();
  else renderOff();
}
