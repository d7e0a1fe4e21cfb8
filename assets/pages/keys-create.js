// /account/keys: the "Create a key" form (createApiKey) and the box that shows a new
// secret once (after a creation or a rotation). The secret lives in that box only: it
// is removed from the page when the box closes and when the page is left.
import { gql } from './api.js';
import { $, clearErrors, h, requireFilled, setFieldError, focusFirstError, whileBusy } from './forms.js';
import { announce, copyButton, showFormError, when } from './console.js';

export const KEY_FIELDS = 'id name prefix environment scopes ips status createdAt expiresAt lastUsedAt revokedAt';

const CREATE = `mutation ($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret apiKey { ${KEY_FIELDS} } } }`;

/** The IPs/CIDRs of a textarea: separated by commas, spaces or lines. */
export const parseIps = (text) => text.split(/[\s,]+/).filter(Boolean);

/** The end of the day `yyyy-mm-dd` in this browser's time zone, as RFC 3339. */
function endOfDay(value) {
  const d = new Date(`${value}T23:59:59`);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

/** Wires the form; `onCreated(newApiKey)` after a key is made. */
export function wireCreateForm(onCreated) {
  const form = $('#create-key');
  const name = $('#key-name');
  const expires = $('#key-expires');
  const ips = $('#key-ips');
  const scopesBox = $('#key-scopes');
  const firstScope = scopesBox.querySelector('input');
  const submit = $('#create-submit');
  const tomorrow = new Date(Date.now() + 86_400_000);
  expires.min = `${tomorrow.getFullYear()}-${String(tomorrow.getMonth() + 1).padStart(2, '0')}-${String(tomorrow.getDate()).padStart(2, '0')}`;

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors(form);
    if (!requireFilled(form, [[name, 'Give the key a name.']])) return;
    const scopes = [...scopesBox.querySelectorAll('input:checked')].map((i) => i.value);
    if (!scopes.length) {
      setFieldError(firstScope, 'Choose at least one scope.');
      focusFirstError(form);
      return;
    }
    const input = { name: name.value.trim(), scopes, environment: $('#key-environment').value, ips: parseIps(ips.value) };
    if (expires.value) {
      input.expiresAt = endOfDay(expires.value);
      if (!input.expiresAt) {
        setFieldError(expires, 'Enter a date, or leave the field empty.');
        focusFirstError(form);
        return;
      }
    }
    try {
      const { createApiKey } = await whileBusy(submit, 'Creating…', () => gql(CREATE, { input }));
      form.reset();
      announce(`Key “${createApiKey.apiKey.name}” created.`);
      onCreated(createApiKey);
    } catch (err) {
      showFormError(form, err, [
        [/name/i, name],
        [/IP address|CIDR|allowlist|\bips?\b/i, ips],
        [/expir/i, expires],
        [/scope/i, firstScope],
      ]);
    }
  });
}

/**
 * Shows a new secret in a modal box: copy it, then "Done". `note`: a line under the
 * warning (e.g. when the old key stops). Resolves when the box is closed; by then the
 * secret is gone from the page.
 */
export function showSecret({ secret, apiKey }, { title = 'Your new API key', note = null } = {}) {
  return new Promise((resolve) => {
    const before = document.activeElement;
    let value = secret;
    const code = h('code', { id: 'new-secret', class: 'secret' }, value);
    const done = h('button', { type: 'submit', class: 'primary', id: 'secret-done' }, 'Done: I have saved it');
    const dialog = h(
      'dialog',
      { class: 'dialog', id: 'secret-dialog', 'aria-labelledby': 'secret-title', 'aria-describedby': 'secret-warning' },
      h(
        'form',
        { method: 'dialog' },
        h('h2', { id: 'secret-title' }, title),
        h('p', { class: 'warning', id: 'secret-warning' }, h('strong', {}, 'Copy this key now: you will not see it again.'), ' Store it in your secrets manager; if you lose it, rotate the key.'),
        h('p', { class: 'hint' }, `${apiKey.name} · ${apiKey.prefix}… · ${apiKey.scopes.join(', ')}`),
        note ? h('p', { class: 'hint', id: 'secret-note' }, note) : null,
        h('div', { class: 'secret-box' }, code, copyButton(() => value, 'Copy', { id: 'secret-copy' })),
        h('div', { class: 'dialog-actions' }, done),
      ),
    );
    const close = () => {
      value = null;
      code.textContent = '';
      dialog.remove();
      window.removeEventListener('pagehide', close);
    };
    // Leaving the page (or the back/forward cache keeping it) must not keep the secret.
    window.addEventListener('pagehide', close);
    dialog.addEventListener('close', () => {
      close();
      if (before?.isConnected) before.focus();
      resolve();
    });
    document.body.append(dialog);
    dialog.showModal();
    $('#secret-copy', dialog).focus();
  });
}

/** "The old key works until <time>" for a rotation's answer. */
export function graceNote(seconds) {
  if (!seconds) return 'The old key stopped working.';
  const until = new Date(Date.now() + seconds * 1000);
  return h('span', {}, 'The old key keeps working until ', when(until.toISOString()), '.').textContent;
}
