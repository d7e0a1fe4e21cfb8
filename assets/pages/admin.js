// /admin (role ADMIN): the users (admin-users.js) and the audit log (admin-audit.js).
// Anyone else gets a clear refusal here; the API refuses them anyway (every field of
// this page is @userToken(roles: [ADMIN])), and a refusal it answers is shown verbatim.
import { $, h } from './forms.js';
import { showConsole, startConsole } from './console.js';
import { initUsers } from './admin-users.js';
import { initAudit, showUserEvents } from './admin-audit.js';

function refuse(message) {
  $('#console-loading').hidden = true;
  $('#admin-page').hidden = true;
  $('#refused-message').textContent = message;
  $('#admin-refused').hidden = false;
  $('#refused-heading').setAttribute('tabindex', '-1');
  $('#refused-heading').focus();
}

export async function init() {
  const user = await startConsole();
  if (!user) return;
  if (user.role !== 'ADMIN') {
    refuse(
      `This page is for administrators, and ${user.email || 'your account'} has the role ${user.role}. ` +
        'Ask an administrator of this server if you need access.',
    );
    return;
  }
  showConsole('admin-page');
  const results = await Promise.allSettled([initUsers(user, { showAudit: showUserEvents }), initAudit()]);
  const refused = results.find((r) => r.status === 'rejected' && r.reason?.code === 'FORBIDDEN');
  if (refused) {
    // Demoted since the page loaded, or the API thinks otherwise: its word, verbatim.
    refuse(refused.reason.message);
    return;
  }
  for (const [i, r] of results.entries()) {
    if (r.status === 'rejected') {
      const where = i === 0 ? $('#users') : $('#audit');
      where.replaceChildren(h('tr', {}, h('td', { colspan: 6 }, h('p', { class: 'alert', role: 'alert' }, r.reason?.message || 'This part of the page did not load.'))));
    }
  }
}
