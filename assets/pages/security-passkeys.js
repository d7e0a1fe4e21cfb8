// /account/security, "Passkeys": the user's passkeys (userPasskeys) with when each was
// added and last used and whether it is backed up (synced); add one
// (generatePasskeyRegistrationChallenge -> navigator.credentials.create ->
// registerPasskey), rename it, delete it.
import { ApiError, gql } from './api.js';
import { clearErrors, h, requireFilled, whileBusy } from './forms.js';
import { actionAlert, showFormError, announce, badge, confirmAction, facts, focusOn, when } from './console.js';
import { deviceName } from './events.js';

const FIELDS = 'id deviceName createdAt lastUsedAt backedUp';
const LIST = `query { userPasskeys { ${FIELDS} } }`;
const CHALLENGE = 'mutation { generatePasskeyRegistrationChallenge { options } }';
const REGISTER = `mutation ($credential: JSON!, $name: String!) { registerPasskey(credential: $credential, device_name: $name) { ${FIELDS} } }`;
const RENAME = `mutation ($id: ID!, $name: String!) { renamePasskey(id: $id, device_name: $name) { ${FIELDS} } }`;
const DELETE = 'mutation ($id: ID!) { deletePasskey(id: $id) }';

let body;
let list;

const changed = () => document.dispatchEvent(new CustomEvent('security:changed'));

const supported = () =>
  typeof window.PublicKeyCredential === 'function' &&
  typeof PublicKeyCredential.parseCreationOptionsFromJSON === 'function' &&
  !!navigator.credentials;

function browserMessage(e) {
  switch (e?.name) {
    case 'NotAllowedError':
      return 'No passkey was created: it was cancelled or timed out. Try again.';
    case 'InvalidStateError':
      return 'This device or security key already holds a passkey for your account.';
    case 'SecurityError':
      return 'This browser refused to create a passkey on this address.';
    default:
      return `The browser could not create a passkey${e?.message ? ` (${e.message})` : ''}.`;
  }
}

async function createPasskey(name) {
  const { generatePasskeyRegistrationChallenge: c } = await gql(CHALLENGE);
  if (!c?.options?.publicKey) throw new ApiError('The server sent no passkey challenge. Reload the page and try again.', 'HTTP');
  let credential;
  try {
    credential = await navigator.credentials.create({ publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(c.options.publicKey) });
  } catch (e) {
    throw new ApiError(browserMessage(e), 'BROWSER');
  }
  if (!credential) throw new ApiError(browserMessage(null), 'BROWSER');
  return (await gql(REGISTER, { credential: credential.toJSON(), name })).registerPasskey;
}

function passkeyItem(p) {
  const alert = actionAlert();
  const title = h('h3', { id: `passkey-${p.id}-name` }, p.deviceName);
  const actions = h('div', { class: 'item-actions' });
  const renameId = `rename-${p.id}`;
  const input = h('input', { id: renameId, type: 'text', maxlength: '64', value: p.deviceName, required: true, 'aria-describedby': `${renameId}-error` });
  const save = h('button', { type: 'submit', class: 'primary compact' }, 'Save');
  const form = h(
    'form',
    { class: 'inline-form rename-form', hidden: true, novalidate: true },
    h('div', { class: 'field' }, h('label', { for: renameId }, 'New name'), input, h('p', { class: 'field-error', id: `${renameId}-error` })),
    h('div', { class: 'item-actions' }, save, h('button', { type: 'button', class: 'secondary compact', 'data-action': 'cancel-rename', onclick: () => { form.hidden = true; actions.hidden = false; focusOn(renameButton); } }, 'Cancel')),
  );
  const renameButton = h('button', { type: 'button', class: 'secondary compact', 'data-action': 'rename', 'aria-describedby': title.id }, 'Rename');
  renameButton.addEventListener('click', () => {
    actions.hidden = true;
    form.hidden = false;
    input.value = p.deviceName;
    input.focus();
    input.select();
  });
  const del = h('button', { type: 'button', class: 'danger-outline compact', 'data-action': 'delete', 'aria-describedby': title.id }, 'Delete');
  del.addEventListener('click', async () => {
    alert.say('');
    const ok = await confirmAction({
      title: `Delete the passkey “${p.deviceName}”?`,
      body: 'You will no longer be able to sign in with it. Remove it from the device too (in its passkey or password settings).',
      confirm: 'Delete passkey',
    });
    if (!ok) return;
    try {
      await whileBusy(del, 'Deleting…', () => gql(DELETE, { id: p.id }));
      await load();
      changed();
      announce(`The passkey “${p.deviceName}” was deleted.`);
      focusOn(document.getElementById('passkeys-heading'));
    } catch (err) {
      alert.say(err.message);
      focusOn(alert);
    }
  });
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors(form);
    if (!requireFilled(form, [[input, 'Enter a name for this passkey.']])) return;
    try {
      const { renamePasskey: renamed } = await whileBusy(save, 'Saving…', () => gql(RENAME, { id: p.id, name: input.value.trim() }));
      await load();
      announce(`Renamed to “${renamed.deviceName}”.`);
      focusOn(list.querySelector(`[data-passkey-id="${p.id}"] h3`));
    } catch (err) {
      showFormError(form, err, [[/name/i, input]]);
    }
  });
  actions.append(renameButton, del);
  return h(
    'li',
    { class: 'item', 'data-passkey-id': p.id, 'aria-labelledby': title.id },
    h('div', { class: 'item-head' }, title, p.backedUp ? badge('Synced', 'ok') : badge('This device only', 'muted')),
    facts([
      ['Added', when(p.createdAt), 'created'],
      ['Last used', when(p.lastUsedAt, 'Never'), 'last-used'],
      ['Backed up', p.backedUp ? 'Yes: synced by your passkey provider' : 'No: only on the device that made it', 'backed-up'],
    ]),
    alert,
    actions,
    form,
  );
}

async function load() {
  const { userPasskeys } = await gql(LIST);
  list.replaceChildren(...userPasskeys.map(passkeyItem));
  const none = body.querySelector('#passkeys-none');
  none.hidden = userPasskeys.length > 0;
}

export async function initPasskeys(container) {
  body = container;
  list = h('ul', { class: 'items', id: 'passkeys' });
  const name = h('input', { id: 'passkey-name', name: 'device-name', type: 'text', maxlength: '64', required: true, value: deviceName(navigator.userAgent), 'aria-describedby': 'passkey-name-hint passkey-name-error' });
  const add = h('button', { type: 'submit', class: 'primary', id: 'passkey-add' }, 'Add a passkey');
  const form = h(
    'form',
    { id: 'passkey-form', novalidate: true, 'aria-label': 'Add a passkey' },
    h('div', { class: 'alert', role: 'alert', 'data-alert': true, hidden: true }),
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'passkey-name' }, 'Name for the new passkey'),
      name,
      h('p', { class: 'hint', id: 'passkey-name-hint' }, 'So that you can tell your passkeys apart, e.g. “Work laptop”.'),
      h('p', { class: 'field-error', id: 'passkey-name-error' }),
    ),
    add,
  );
  const ok = supported();
  body.replaceChildren(
    h('p', { class: 'hint', id: 'passkeys-none' }, 'No passkeys yet.'),
    list,
    ok ? form : h('p', { class: 'hint' }, 'This browser cannot create passkeys here.'),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors(form);
    if (!requireFilled(form, [[name, 'Enter a name for the passkey.']])) return;
    try {
      const p = await whileBusy(add, 'Waiting for your device…', () => createPasskey(name.value.trim()));
      await load();
      changed();
      announce(`Passkey “${p.deviceName}” added.`);
      focusOn(list.querySelector(`[data-passkey-id="${p.id}"] h3`));
    } catch (err) {
      showFormError(form, err, [[/device_name|name/i, name]]);
    }
  });
  await load();
}
