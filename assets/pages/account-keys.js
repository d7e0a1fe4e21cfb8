// /account/keys: the signed-in user's API keys (apiKeys, a page at a time: the API
// gives at most 64 per call), "Create a key" (keys-create.js), and per key: rotate
// (with an optional grace period for the old secret), revoke and delete, each refusal
// the API's own message next to that key.
import { gql } from './api.js';
import { $, h, whileBusy } from './forms.js';
import { KEY_FIELDS, graceNote, showSecret, wireCreateForm } from './keys-create.js';
import { actionAlert, announce, badge, confirmAction, facts, focusOn, pageAlert, showConsole, startConsole, when } from './console.js';

const PAGE_SIZE = 25;
const LIST = `query ($offset: Int, $limit: Int) { apiKeys(offset: $offset, limit: $limit) { total offset limit items { ${KEY_FIELDS} } } }`;
const ROTATE = `mutation ($id: ID!, $grace: Int) { rotateApiKey(id: $id, gracePeriodSeconds: $grace) { secret apiKey { ${KEY_FIELDS} } } }`;
const REVOKE = 'mutation ($id: ID!) { revokeApiKey(id: $id) { id status } }';
const DELETE = 'mutation ($id: ID!) { deleteApiKey(id: $id) }';

const ENVIRONMENTS = { LIVE: 'Live', TEST: 'Test', DEV: 'Development' };
const GRACE = [
  [0, 'At once'],
  [3600, 'In 1 hour'],
  [86_400, 'In 24 hours'],
  [604_800, 'In 7 days'],
];

let offset = 0;

function statusBadge(key) {
  if (key.status === 'REVOKED') return badge('Revoked', 'muted');
  if (key.status === 'EXPIRED') return badge('Expired', 'muted');
  // A rotated key in its grace period: active until revokedAt.
  if (key.revokedAt) return badge('Rotated', 'warn');
  return badge('Active', 'ok');
}

function keyItem(key) {
  const alert = actionAlert();
  const li = h('li', { class: 'item key', 'data-key-id': key.id, 'data-status': key.status, 'aria-labelledby': `key-${key.id}-name` });
  const actions = h('div', { class: 'item-actions' });
  const rotateForm = rotateFormFor(key, alert, () => {
    rotateForm.hidden = true;
    actions.hidden = false;
  });
  const active = key.status === 'ACTIVE';
  const button = (label, cls, onclick, data) =>
    h('button', { type: 'button', class: `${cls} compact`, 'data-action': data, 'aria-describedby': `key-${key.id}-name`, onclick }, label);
  if (active && !key.revokedAt) {
    actions.append(
      button('Rotate', 'secondary', () => {
        actions.hidden = true;
        rotateForm.hidden = false;
        rotateForm.querySelector('select').focus();
      }, 'rotate'),
    );
  }
  if (key.status !== 'REVOKED') actions.append(button('Revoke', 'danger-outline', (e) => revoke(key, alert, e.currentTarget), 'revoke'));
  actions.append(button('Delete', 'danger-outline', (e) => remove(key, alert, e.currentTarget), 'delete'));

  const stops = key.status === 'ACTIVE' && key.revokedAt ? ['Stops working', when(key.revokedAt), 'stops'] : null;
  const revoked = key.status === 'REVOKED' && key.revokedAt ? ['Revoked', when(key.revokedAt), 'revoked'] : null;
  li.append(
    h('div', { class: 'item-head' }, h('h3', { id: `key-${key.id}-name` }, key.name), statusBadge(key), badge(ENVIRONMENTS[key.environment] || key.environment, 'info')),
    facts([
      ['Prefix', h('code', {}, `${key.prefix}…`), 'prefix'],
      ['Scopes', key.scopes.join(', '), 'scopes'],
      ['Created', when(key.createdAt), 'created'],
      ['Expires', when(key.expiresAt, 'Never'), 'expires'],
      ['Last used', when(key.lastUsedAt, 'Never'), 'last-used'],
      ['Allowed IPs', key.ips.length ? key.ips.join(', ') : 'Any address', 'ips'],
      stops,
      revoked,
    ]),
    alert,
    actions,
    rotateForm,
  );
  return li;
}

function rotateFormFor(key, alert, hide) {
  const id = `grace-${key.id}`;
  const select = h('select', { id, name: 'grace' }, GRACE.map(([s, label]) => h('option', { value: s }, label)));
  const submit = h('button', { type: 'submit', class: 'primary compact' }, 'Rotate now');
  const cancel = h('button', { type: 'button', class: 'secondary compact', onclick: () => { hide(); focusOn(rotateButton()); } }, 'Cancel');
  const rotateButton = () => form.closest('li')?.querySelector('[data-action="rotate"]');
  const form = h(
    'form',
    { class: 'inline-form rotate-form', hidden: true, novalidate: true },
    h('p', { class: 'hint' }, 'A new secret with the same settings. Choose when the old secret stops working: a grace period lets you switch your deployments over.'),
    h('div', { class: 'field' }, h('label', { for: id }, 'The old secret stops'), select),
    h('div', { class: 'item-actions' }, submit, cancel),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    alert.say('');
    const grace = Number(select.value);
    try {
      const { rotateApiKey } = await whileBusy(submit, 'Rotating…', () => gql(ROTATE, { id: key.id, grace }));
      await load();
      await showSecret(rotateApiKey, { title: `New secret for “${key.name}”`, note: graceNote(grace) });
      announce(`Key “${key.name}” rotated.`);
      focusOn(document.querySelector(`[data-key-id="${rotateApiKey.apiKey.id}"] h3`));
    } catch (err) {
      alert.say(err.message);
      focusOn(alert);
    }
  });
  return form;
}

async function revoke(key, alert, button) {
  alert.say('');
  const ok = await confirmAction({
    title: `Revoke “${key.name}”?`,
    body: 'Everything that uses this key stops working at once. The key stays listed as revoked; this cannot be undone.',
    confirm: 'Revoke key',
  });
  if (!ok) return;
  try {
    await whileBusy(button, 'Revoking…', () => gql(REVOKE, { id: key.id }));
    await load();
    announce(`Key “${key.name}” revoked.`);
    focusOn(document.querySelector(`[data-key-id="${key.id}"] h3`) || $('#list-heading'));
  } catch (err) {
    alert.say(err.message);
    focusOn(alert);
  }
}

async function remove(key, alert, button) {
  alert.say('');
  const ok = await confirmAction({
    title: `Delete “${key.name}”?`,
    body: 'The key stops working at once and disappears from this list. This cannot be undone.',
    confirm: 'Delete key',
  });
  if (!ok) return;
  try {
    await whileBusy(button, 'Deleting…', () => gql(DELETE, { id: key.id }));
    await load();
    announce(`Key “${key.name}” deleted.`);
    focusOn($('#list-heading'));
  } catch (err) {
    alert.say(err.message);
    focusOn(alert);
  }
}

/** Loads the page of keys at `offset` (clamped to the last page when keys went away). */
async function load() {
  let page;
  try {
    page = (await gql(LIST, { offset, limit: PAGE_SIZE })).apiKeys;
    if (!page.items.length && page.total > 0 && offset > 0) {
      offset = Math.max(0, Math.floor((page.total - 1) / PAGE_SIZE) * PAGE_SIZE);
      page = (await gql(LIST, { offset, limit: PAGE_SIZE })).apiKeys;
    }
  } catch (err) {
    pageAlert(err.message);
    return;
  }
  const list = $('#keys');
  list.replaceChildren(...page.items.map(keyItem));
  const first = page.total ? page.offset + 1 : 0;
  const last = page.offset + page.items.length;
  $('#keys-count').textContent = page.total ? `${page.total} ${page.total === 1 ? 'key' : 'keys'}` : 'No keys yet.';
  $('#keys-pager').hidden = page.total <= PAGE_SIZE;
  $('#keys-range').textContent = `${first}–${last} of ${page.total}`;
  $('#keys-prev').disabled = page.offset === 0;
  $('#keys-next').disabled = last >= page.total;
}

export async function init() {
  const user = await startConsole();
  if (!user) return;
  showConsole('keys-page');
  wireCreateForm(async (created) => {
    offset = 0;
    await load();
    await showSecret(created);
    focusOn(document.querySelector(`[data-key-id="${created.apiKey.id}"] h3`));
  });
  const turn = (delta) => async () => {
    offset = Math.max(0, offset + delta);
    await load();
    focusOn($('#list-heading'));
  };
  $('#keys-prev').addEventListener('click', turn(-PAGE_SIZE));
  $('#keys-next').addEventListener('click', turn(PAGE_SIZE));
  await load();
}
