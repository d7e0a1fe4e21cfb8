// /oauth/callback/{provider}: the provider sent the browser back with `code` and
// `state` (in the query, or for Apple's form_post in config.form). The state must be
// the one this tab stored when it started (else: login CSRF, or a replay); then
// oauthCallback through /session/graphql, and the second step when the account has 2FA.
// A flow that /account/security started to link the provider (stored with mode "link")
// calls linkProvider instead, with this browser's access token, and goes back there.
import { LOGIN_RESULT, gql, refresh, sessionGql } from './api.js';
import { $, config, destination, safeNext, showPanel } from './forms.js';
import { PROVIDERS, takeFlow } from './social.js';
import { showSecondFactor } from './twofactor.js';

const CALLBACK = `mutation ($provider: OAuthProvider!, $code: String!, $state: String!, $firstName: String) {
  oauthCallback(provider: $provider, code: $code, state: $state, firstName: $firstName) { ${LOGIN_RESULT} }
}`;

const LINK = `mutation ($provider: OAuthProvider!, $code: String!, $state: String!) {
  linkProvider(provider: $provider, code: $code, state: $state) { provider }
}`;

function fail(message, heading, restart = null) {
  if (heading) $('#failed-heading').textContent = heading;
  $('#failed-message').textContent = message;
  if (restart) {
    $('#restart').href = restart.href;
    $('#restart').textContent = restart.label;
  }
  showPanel('callback-failed');
}

const BACK_TO_SECURITY = { href: '/account/security#providers-section', label: 'Back to security' };

/** The link flow: this browser's session links the provider's account to its user. */
async function finishLink(provider, p, params) {
  const notLinked = `${p.name} was not linked`;
  try {
    const user = await refresh();
    if (!user) {
      fail(`This browser is no longer signed in. Sign in, then link ${p.name} again from the Security page.`, notLinked, {
        href: '/login?next=%2Faccount%2Fsecurity',
        label: 'Sign in',
      });
      return;
    }
    await gql(LINK, { provider: p.enum, code: params.code, state: params.state });
    location.replace(`/account/security?linked=${encodeURIComponent(provider)}#providers-section`);
  } catch (err) {
    const again = /Sign in again/i.test(err.message);
    fail(err.message, notLinked, again ? { href: '/login?next=%2Faccount%2Fsecurity', label: 'Sign in again' } : BACK_TO_SECURITY);
  }
}

/** The first name in Apple's `user` field (JSON, sent on the first sign-in only). */
function appleFirstName(raw) {
  if (typeof raw !== 'string' || !raw) return null;
  try {
    const name = JSON.parse(raw)?.name?.firstName;
    return typeof name === 'string' && name.trim() ? name.trim() : null;
  } catch {
    return null;
  }
}

export async function init() {
  const cfg = config();
  const provider = String(cfg.provider || location.pathname.split('/').pop() || '').toLowerCase();
  const p = PROVIDERS[provider];
  const form = cfg.form && typeof cfg.form === 'object' ? cfg.form : null;
  const query = new URLSearchParams(location.search);
  const params = form ? { code: form.code, state: form.state, error: form.error, user: form.user } : Object.fromEntries(query);
  // The code is of no use to anyone once read: keep it out of the history.
  if (location.search) history.replaceState(null, '', location.pathname);

  if (!p || cfg.error) {
    fail(cfg.error || `"${provider}" is not a sign-in provider of this server.`);
    return;
  }
  const flow = takeFlow(provider, params.state);
  const linking = flow?.mode === 'link';
  $('#callback-heading').textContent = linking ? `Linking ${p.name}` : `Signing you in with ${p.name}`;
  if (linking) $('#callback-status [role="status"]').lastChild.textContent = `Linking your ${p.name} account…`;
  if (params.error) {
    const why = params.error === 'access_denied' ? 'it was cancelled' : `${p.name} answered "${params.error}"`;
    if (linking) fail(`The link with ${p.name} did not finish: ${why}. You can try again.`, `${p.name} was not linked`, BACK_TO_SECURITY);
    else fail(`The sign-in with ${p.name} did not finish: ${why}. You can try again.`);
    return;
  }
  if (!params.code || !params.state) {
    fail(`This page needs the code and state that ${p.name} sends back. Start the sign-in again from the sign-in page.`);
    return;
  }
  if (!flow) {
    fail(
      `It was already used, or the sign-in did not start in this browser tab. ` +
        `For your safety, start the sign-in with ${p.name} again from the sign-in page.`,
      'This sign-in link cannot be used',
    );
    return;
  }
  if (linking) {
    await finishLink(provider, p, params);
    return;
  }
  const next = safeNext(flow.next);
  try {
    const data = await sessionGql(CALLBACK, {
      provider: p.enum,
      code: params.code,
      state: params.state,
      firstName: provider === 'apple' ? appleFirstName(params.user) : null,
    });
    const result = data.oauthCallback;
    if (result?.__typename === 'TwoFactorRequired') {
      showPanel('second-factor');
      showSecondFactor($('#second-factor'), result, () => location.assign(destination(next)));
      return;
    }
    location.replace(destination(next));
  } catch (err) {
    fail(err.message);
  }
}
