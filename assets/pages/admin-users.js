// /admin, "Users": every user (users: search by part of the email, a page at a time),
// with role changes (setUserRole) and activation (setUserActive: deactivating signs the
// user out everywhere at once), and a link to the user's events in the audit log.
import { gql } from './api.js';
import { $, clearErrors, h, whileBusy } from './forms.js';
import { actionAlert, announce, badge, confirmAction, focusOn, showFormError, when } from './console.js';

const PAGE_SIZE = 20;
const FIELDS = 'id tenantId email emailVerified firstName username role isActive twoFactorEnabled createdAt';
const LIST = `query ($query: String, $offset: Int, $limit: Int) { users(query: $query, offset: $offset, limit: $limit) { total offset limit items { ${FIELDS} } } }`;
const SET_ROLE = `mutation ($id: ID!, $role: Role!) { setUserRole(userId: $id, role: $role) { ${FIELDS} } }`;
const SET_ACTIVE = `mutation ($id: ID!, $active: Boolean!) { setUserActive(userId: $id, active: $active) { ${FIELDS} } }`;

const ROLES = [
  ['USER', 'User'],
  ['DEVELOPER', 'Developer'],
  ['ADMIN', 'Administrator'],
];
const roleName = (r) => ROLES.find(([v]) => v === r)?.[1] || r;

let me;
let query = '';
let offset = 0;
let onAudit = () => {};

const cell = (label, ...children) => h('td', { 'data-label': label }, ...children);

function userRow(u) {
  const roleAlert = actionAlert();
  const activeAlert = actionAlert();
  const label = u.email || 'No email address';
  const selectId = `role-${u.id}`;
  const select = h('select', { id: selectId, 'data-role-select': true }, ROLES.map(([v, name]) => h('option', { value: v, selected: v === u.role }, name)));
  const nameId = `user-${u.id}-email`;
  const applyRole = h('button', { type: 'button', class: 'secondary compact', 'data-action': 'set-role', 'aria-describedby': nameId }, 'Change');
  applyRole.addEventListener('click', async () => {
    roleAlert.say('');
    const role = select.value;
    if (role === u.role) {
      roleAlert.say(`${label} already has the role ${roleName(role)}.`);
      return;
    }
    if (u.id === me.id || role === 'ADMIN') {
      const ok = await confirmAction({
        title: `Make ${label} ${roleName(role).toLowerCase()}?`,
        body: u.id === me.id ? 'This is your own account: you may lose access to this page.' : 'Administrators can change every user and read the whole audit log.',
        confirm: 'Change role',
        danger: u.id === me.id,
      });
      if (!ok) return;
    }
    try {
      await whileBusy(applyRole, 'Saving…', () => gql(SET_ROLE, { id: u.id, role }));
      await load();
      announce(`${label} is now ${roleName(role).toLowerCase()}.`);
      focusOn(document.querySelector(`[data-user-id="${u.id}"] [data-role-select]`) || $('#users-heading'));
    } catch (err) {
      roleAlert.say(err.message);
      focusOn(roleAlert);
    }
  });
  const toggle = h(
    'button',
    { type: 'button', class: `${u.isActive ? 'danger-outline' : 'secondary'} compact`, 'data-action': u.isActive ? 'deactivate' : 'activate', 'aria-describedby': nameId },
    u.isActive ? 'Deactivate' : 'Activate',
  );
  toggle.addEventListener('click', async () => {
    activeAlert.say('');
    if (u.isActive) {
      const ok = await confirmAction({
        title: `Deactivate ${label}?`,
        body: 'They are signed out everywhere at once, their API keys stop working, and they cannot sign in until reactivated.',
        confirm: 'Deactivate',
      });
      if (!ok) return;
    }
    try {
      await whileBusy(toggle, u.isActive ? 'Deactivating…' : 'Activating…', () => gql(SET_ACTIVE, { id: u.id, active: !u.isActive }));
      await load();
      announce(`${label} was ${u.isActive ? 'deactivated' : 'activated'}.`);
      focusOn(document.querySelector(`[data-user-id="${u.id}"] [data-action$="activate"]`) || $('#users-heading'));
    } catch (err) {
      activeAlert.say(err.message);
      focusOn(activeAlert);
    }
  });
  const audit = h('button', { type: 'button', class: 'link-button', 'data-action': 'audit', 'aria-describedby': nameId }, 'Events');
  audit.addEventListener('click', () => onAudit(u));
  const name = [u.firstName, u.username && `@${u.username}`].filter(Boolean).join(' ');
  return h(
    'tr',
    { class: u.isActive ? null : 'row-inactive', 'data-user-id': u.id, 'data-email': u.email || '' },
    cell(
      'User',
      h('div', { class: 'cell-title' }, h('strong', { class: 'email', id: nameId }, label), u.id === me.id ? badge('You', 'info') : null),
      name ? h('div', {}, name) : null,
      h('div', { class: 'hint' }, h('code', { title: `Tenant ${u.tenantId}` }, u.id)),
    ),
    cell(
      'Role',
      h('div', { class: 'cell-controls' }, h('label', { for: selectId, class: 'visually-hidden' }, `Role of ${label}`), select, applyRole),
      roleAlert,
    ),
    cell(
      'Status',
      h('div', { class: 'badges' },
        u.isActive ? badge('Active', 'ok') : badge('Deactivated', 'warn'),
        u.email ? (u.emailVerified ? badge('Email confirmed', 'muted') : badge('Email not confirmed', 'muted')) : null,
        u.twoFactorEnabled ? badge('Two-step on', 'muted') : null,
      ),
    ),
    cell('Created', when(u.createdAt)),
    cell('Actions', h('div', { class: 'cell-controls' }, toggle, audit), activeAlert),
  );
}

async function load() {
  const { users } = await gql(LIST, { query: query || null, offset, limit: PAGE_SIZE });
  $('#users').replaceChildren(...users.items.map(userRow));
  $('#users-table').hidden = users.items.length === 0;
  const last = users.offset + users.items.length;
  $('#users-count').textContent = users.total
    ? `${users.total} ${users.total === 1 ? 'user' : 'users'}${query ? ` matching “${query}”` : ''}`
    : query ? `No user’s email contains “${query}”.` : 'No users.';
  $('#users-pager').hidden = users.total <= PAGE_SIZE;
  $('#users-range').textContent = `${users.total ? users.offset + 1 : 0}–${last} of ${users.total}`;
  $('#users-prev').disabled = users.offset === 0;
  $('#users-next').disabled = last >= users.total;
}

export async function initUsers(user, { showAudit }) {
  me = user;
  onAudit = showAudit;
  const form = $('#users-search');
  const input = $('#users-query');
  const submit = $('#users-search-submit');
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors(form);
    query = input.value.trim();
    offset = 0;
    try {
      await whileBusy(submit, 'Searching…', load);
    } catch (err) {
      showFormError(form, err, [[/query|email/i, input]]);
    }
  });
  const turn = (delta) => async () => {
    offset = Math.max(0, offset + delta);
    try {
      await load();
      focusOn($('#users-heading'));
    } catch (err) {
      showFormError(form, err);
    }
  };
  $('#users-prev').addEventListener('click', turn(-PAGE_SIZE));
  $('#users-next').addEventListener('click', turn(PAGE_SIZE));
  await load();
}
