// /account/tenant: the current team (tenant) of this session: its name, members and
// their roles, invitations, every member's keys (for OWNERs and ADMINs), switching to
// another team or making a new one, leaving. What a role may not do is not offered,
// and the API's refusal is shown next to the action when it says no anyway.
import { gql, sessionGql } from './api.js';
import { $, h, whileBusy } from './forms.js';
import { actionAlert, announce, badge, confirmAction, facts, pageAlert, showConsole, showFormError, startConsole, when } from './console.js';

const LOAD = `query { currentTenant { id name myRole memberCount createdAt }
  members(limit: 64) { total items { role joinedAt user { id email firstName } } }
  tenants { id name myRole memberCount }
  myInvitations { id tenantName role expiresAt } }`;
const ADMIN_LOAD = `query { invitations { id email role expiresAt invitedBy { email } }
  tenantApiKeys(limit: 64) { total items { id name prefix status userId createdAt lastUsedAt } } }`;
const RENAME = 'mutation ($name: String!) { renameTenant(name: $name) { id name } }';
const INVITE = 'mutation ($email: String!, $role: TenantRole) { inviteMember(email: $email, role: $role) { id email } }';
const REVOKE_INVITE = 'mutation ($id: ID!) { revokeInvitation(id: $id) { id status } }';
const DECLINE = 'mutation ($id: ID!) { declineInvitation(id: $id) }';
const SET_ROLE = 'mutation ($user: ID!, $role: TenantRole!) { setMemberRole(userId: $user, role: $role) { role } }';
const REMOVE = 'mutation ($user: ID!) { removeMember(userId: $user) }';
const TRANSFER = 'mutation ($user: ID!) { transferOwnership(userId: $user) { role } }';
const LEAVE = 'mutation ($id: ID!) { leaveTenant(tenantId: $id) }';
const SWITCH = 'mutation ($id: ID!) { switchTenant(tenantId: $id) { accessToken refreshToken } }';
const CREATE = 'mutation ($name: String!) { createTenant(name: $name) { id name } }';
const REVOKE_KEY = 'mutation ($id: ID!) { revokeApiKey(id: $id) { id status } }';

const ROLE_NAMES = { OWNER: 'Owner', ADMIN: 'Admin', MEMBER: 'Member' };
const roleBadge = (role) => badge(ROLE_NAMES[role] || role, role === 'OWNER' ? 'ok' : role === 'ADMIN' ? 'info' : 'muted');

let me;

/** A button that runs `work` with its own alert; `done` (or a reload) after. */
function action(label, cls, alert, work, attrs = {}) {
  const button = h('button', { type: 'button', class: `${cls} compact`, ...attrs }, label);
  button.addEventListener('click', async () => {
    alert.say('');
    try {
      const ok = await whileBusy(button, `${label}…`, work);
      if (ok !== false) await load();
    } catch (err) {
      alert.say(err.message);
    }
  });
  return button;
}

function memberItem(m, tenant, manage, owners) {
  const alert = actionAlert();
  const self = m.user.id === me.id;
  const name = m.user.firstName ? `${m.user.firstName} (${m.user.email})` : m.user.email;
  const li = h('li', { class: 'item', 'data-member': m.user.email });
  const actions = h('div', { class: 'item-actions' });
  // An ADMIN manages MEMBERs and ADMINs; an OWNER also hands over ownership.
  if (manage && !self && m.role !== 'OWNER') {
    const other = m.role === 'ADMIN' ? 'MEMBER' : 'ADMIN';
    actions.append(
      action(other === 'ADMIN' ? 'Make admin' : 'Make member', 'secondary', alert,
        () => gql(SET_ROLE, { user: m.user.id, role: other }), { 'data-action': 'role' }),
      action('Remove', 'danger-outline', alert, async () => {
        const ok = await confirmAction({
          title: `Remove ${m.user.email}?`,
          body: 'Their sessions in this team end and the keys they made here stop working at once.',
          confirm: 'Remove',
        });
        if (!ok) return false;
        await gql(REMOVE, { user: m.user.id });
        announce(`${m.user.email} was removed.`);
        return true;
      }, { 'data-action': 'remove' }),
    );
  }
  if (tenant.myRole === 'OWNER' && !self) {
    actions.append(action('Make owner', 'secondary', alert, async () => {
      const ok = await confirmAction({
        title: `Make ${m.user.email} the owner?`,
        body: 'You become an admin of this team. Only the new owner can hand it back.',
        confirm: 'Transfer ownership',
      });
      if (!ok) return false;
      await gql(TRANSFER, { user: m.user.id });
      return true;
    }, { 'data-action': 'transfer' }));
  }
  // The last OWNER cannot leave (the API says so too): not offered.
  if (self && !(m.role === 'OWNER' && owners === 1)) {
    actions.append(action('Leave this team', 'danger-outline', alert, async () => {
      const ok = await confirmAction({
        title: `Leave ${tenant.name}?`,
        body: 'Your sessions in this team end and the keys you made here stop working.',
        confirm: 'Leave',
      });
      if (!ok) return false;
      await gql(LEAVE, { id: tenant.id });
      location.replace('/login?next=%2Faccount%2Ftenant');
      return false;
    }, { 'data-action': 'leave' }));
  }
  li.append(
    h('div', { class: 'item-head' }, h('h3', {}, name), roleBadge(m.role), self ? badge('You', 'info') : null),
    facts([['Joined', when(m.joinedAt), 'joined']]),
    alert,
    actions,
  );
  return li;
}

function invitationItem(inv) {
  const alert = actionAlert();
  return h(
    'li',
    { class: 'item', 'data-invitation': inv.email },
    h('div', { class: 'item-head' }, h('h3', {}, inv.email), roleBadge(inv.role), badge('Pending', 'warn')),
    facts([
      ['Invited by', inv.invitedBy?.email || '—', 'by'],
      ['Expires', when(inv.expiresAt), 'expires'],
    ]),
    alert,
    h('div', { class: 'item-actions' }, action('Revoke', 'danger-outline', alert, () => gql(REVOKE_INVITE, { id: inv.id }), { 'data-action': 'revoke-invitation' })),
  );
}

function keyItem(key, owners) {
  const alert = actionAlert();
  const active = key.status === 'ACTIVE';
  return h(
    'li',
    { class: 'item', 'data-key-id': key.id },
    h('div', { class: 'item-head' }, h('h3', {}, key.name), badge(active ? 'Active' : key.status === 'REVOKED' ? 'Revoked' : 'Expired', active ? 'ok' : 'muted')),
    facts([
      ['Member', owners.get(key.userId) || 'A former member', 'owner'],
      ['Prefix', h('code', {}, `${key.prefix}…`), 'prefix'],
      ['Created', when(key.createdAt), 'created'],
      ['Last used', when(key.lastUsedAt, 'Never'), 'last-used'],
    ]),
    alert,
    active ? h('div', { class: 'item-actions' }, action('Revoke', 'danger-outline', alert, () => gql(REVOKE_KEY, { id: key.id }), { 'data-action': 'revoke-key' })) : null,
  );
}

function tenantItem(t, current) {
  const alert = actionAlert();
  const here = t.id === current.id;
  return h(
    'li',
    { class: 'item', 'data-tenant': t.name },
    h('div', { class: 'item-head' }, h('h3', {}, t.name), roleBadge(t.myRole), here ? badge('Current', 'info') : null),
    facts([['Members', String(t.memberCount), 'members']]),
    alert,
    here
      ? null
      : h('div', { class: 'item-actions' }, action('Switch to it', 'secondary', alert, async () => {
          // A new session in that team; the browser's cookie moves with it.
          await sessionGql(SWITCH, { id: t.id });
          announce(`Switched to ${t.name}.`);
          return true;
        }, { 'data-action': 'switch' })),
  );
}

function myInvitationItem(inv) {
  const alert = actionAlert();
  return h(
    'li',
    { class: 'item' },
    h('div', { class: 'item-head' }, h('h3', {}, inv.tenantName), roleBadge(inv.role)),
    h('p', { class: 'hint' }, 'Open the link in the invitation email to join.'),
    alert,
    h('div', { class: 'item-actions' }, action('Decline', 'danger-outline', alert, () => gql(DECLINE, { id: inv.id }), { 'data-action': 'decline' })),
  );
}

async function load() {
  const data = await gql(LOAD);
  const tenant = data.currentTenant;
  const manage = tenant.myRole === 'OWNER' || tenant.myRole === 'ADMIN';
  $('#tenant-heading').textContent = tenant.name;
  $('#tenant-lead').replaceChildren(`You are ${ROLE_NAMES[tenant.myRole].toLowerCase() === 'owner' ? 'the owner' : `a ${ROLE_NAMES[tenant.myRole].toLowerCase()}`} of this team. `, h('code', {}, tenant.id));
  $('#rename-panel').hidden = !manage;
  if (manage && document.activeElement !== $('#tenant-name')) $('#tenant-name').value = tenant.name;
  const count = data.members.total;
  $('#members-count').textContent = count === 1 ? '1 member' : `${count} members`;
  const owners = data.members.items.filter((m) => m.role === 'OWNER').length;
  $('#members').replaceChildren(...data.members.items.map((m) => memberItem(m, tenant, manage, owners)));
  $('#tenants').replaceChildren(...data.tenants.map((t) => tenantItem(t, tenant)));
  $('#my-invitations').hidden = data.myInvitations.length === 0;
  $('#my-invitation-list').replaceChildren(...data.myInvitations.map(myInvitationItem));
  $('#invite-panel').hidden = !manage;
  $('#tenant-keys-panel').hidden = !manage;
  if (manage) {
    const more = await gql(ADMIN_LOAD);
    $('#invitations-empty').hidden = more.invitations.length > 0;
    $('#invitations').replaceChildren(...more.invitations.map(invitationItem));
    const owners = new Map(data.members.items.map((m) => [m.user.id, m.user.email]));
    $('#tenant-keys-empty').hidden = more.tenantApiKeys.items.length > 0;
    $('#tenant-keys').replaceChildren(...more.tenantApiKeys.items.map((k) => keyItem(k, owners)));
  }
}

function wireForm(form, input, submit, busy, run) {
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const alert = form.querySelector('[data-alert]');
    alert.hidden = true;
    input.classList.remove('invalid');
    try {
      await whileBusy(submit, busy, run);
      await load();
    } catch (err) {
      showFormError(form, err, [[/name|email|address/i, input]]);
    }
  });
}

export async function init() {
  me = await startConsole();
  if (!me) return;
  try {
    await load();
  } catch (err) {
    showConsole('tenant-page');
    pageAlert(err.message);
    return;
  }
  wireForm($('#rename-form'), $('#tenant-name'), $('#rename-submit'), 'Renaming…', () =>
    gql(RENAME, { name: $('#tenant-name').value }),
  );
  wireForm($('#invite-form'), $('#invite-email'), $('#invite-submit'), 'Sending…', async () => {
    const email = $('#invite-email').value.trim();
    await gql(INVITE, { email, role: $('#invite-role').value });
    $('#invite-email').value = '';
    announce(`Invitation sent to ${email}.`);
  });
  wireForm($('#create-form'), $('#new-tenant-name'), $('#create-submit'), 'Creating…', async () => {
    const name = $('#new-tenant-name').value;
    await gql(CREATE, { name });
    $('#new-tenant-name').value = '';
    announce(`${name.trim()} was created; switch to it to manage it.`);
  });
  showConsole('tenant-page');
}
