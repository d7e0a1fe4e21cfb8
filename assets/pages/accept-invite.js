// /accept-invite?token=: acceptInvitation when the signed-in person presses "Join the
// team" (never on load), through /session/graphql so that the browser's session moves
// into the joined team; signed out, the way in is to sign in (back here after) or to
// sign up with the invitation, which joins at once.
import { refresh, sessionGql } from './api.js';
import { $, showPanel, whileBusy } from './forms.js';

const ACCEPT = 'mutation ($token: String!) { acceptInvitation(token: $token) { accessToken refreshToken user { tenantId } } }';

export async function init() {
  const token = new URLSearchParams(location.search).get('token') || '';
  if (!token) {
    $('#failed-message').textContent = 'The link has no invitation in it: open the whole link from the email.';
    showPanel('invite-failed');
    return;
  }
  let user = null;
  try {
    user = await refresh();
  } catch {
    user = null;
  }
  if (!user) {
    const here = `/accept-invite?token=${encodeURIComponent(token)}`;
    $('#invite-sign-in').href = `/login?next=${encodeURIComponent(here)}`;
    $('#invite-sign-up').href = `/signup?invitation=${encodeURIComponent(token)}`;
    $('#invite-signed-out').hidden = false;
    return;
  }
  $('#invite-who').textContent = `You are signed in as ${user.email}. The invitation must be for this address, confirmed.`;
  $('#invite-signed-in').hidden = false;
  const accept = $('#accept');
  accept.addEventListener('click', async () => {
    const error = $('#invite-error');
    error.hidden = true;
    try {
      await whileBusy(accept, 'Joining…', () => sessionGql(ACCEPT, { token }));
      location.assign('/account/tenant');
    } catch (err) {
      if (err.code === 'BAD_USER_INPUT') {
        $('#failed-message').textContent = err.message;
        showPanel('invite-failed');
        return;
      }
      error.textContent = err.message;
      error.hidden = false;
    }
  });
}
