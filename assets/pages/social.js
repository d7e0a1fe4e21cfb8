// Social sign-in, the web flow: oauthAuthorizationUrl gives the provider's URL and a
// `state`; the state is kept in this tab's sessionStorage (with where to go after, and
// `mode: "link"` when a signed-in user links the provider instead of signing in), and
// the callback page takes it back exactly once (login CSRF and replay protection).
import { ApiError, gql } from './api.js';
import { h } from './forms.js';

export const PROVIDERS = {
  google: { name: 'Google', enum: 'GOOGLE', icon: 'google.svg' },
  apple: { name: 'Apple', enum: 'APPLE', icon: 'apple.svg' },
  x: { name: 'X', enum: 'X', icon: 'x.svg' },
  github: { name: 'GitHub', enum: 'GITHUB', icon: 'github.svg' },
};

const START = `mutation ($provider: OAuthProvider!, $redirectUri: String!) {
  oauthAuthorizationUrl(provider: $provider, redirectUri: $redirectUri) { url state }
}`;

const storageKey = (provider) => `latchkey.oauth.${provider}`;

export const callbackUrl = (provider) => `${location.origin}/oauth/callback/${provider}`;

/** Asks for the provider's URL, remembers `flow` (with the state) in this tab, then leaves. */
async function leaveFor(provider, flow) {
  const p = PROVIDERS[provider];
  if (!p) throw new ApiError(`Unknown sign-in provider "${provider}".`, 'BROWSER');
  const { oauthAuthorizationUrl: start } = await gql(START, { provider: p.enum, redirectUri: callbackUrl(provider) });
  try {
    sessionStorage.setItem(storageKey(provider), JSON.stringify({ state: start.state, ...flow, at: Date.now() }));
  } catch {
    throw new ApiError('This browser does not let the page remember the sign-in (storage is blocked), so it cannot finish it safely.', 'BROWSER');
  }
  location.assign(start.url);
}

/** Starts the sign-in with `provider`: remembers the state, then leaves for the provider. */
export function startSocial(provider, next) {
  return leaveFor(provider, { next: next || null });
}

/**
 * Starts linking `provider` to the signed-in user (/account/security): the same flow,
 * marked `mode: "link"`, so that the callback page calls linkProvider instead of
 * signing in, and comes back to /account/security.
 */
export function startLink(provider) {
  return leaveFor(provider, { mode: 'link', next: '/account/security' });
}

/**
 * The flow this tab started with `provider`, if `state` is its state; removed in any
 * case, so that the same callback cannot be used twice. Null on a mismatch, a replay or
 * a flow started elsewhere.
 */
export function takeFlow(provider, state) {
  let stored = null;
  try {
    stored = JSON.parse(sessionStorage.getItem(storageKey(provider)) || 'null');
    sessionStorage.removeItem(storageKey(provider));
  } catch {
    return null;
  }
  if (!stored || typeof stored.state !== 'string' || !state || stored.state !== state) return null;
  return stored;
}

/** One "Continue with X" button per configured provider, in `container`. */
export function renderProviderButtons(container, providers, onClick) {
  const known = (Array.isArray(providers) ? providers : []).filter((p) => PROVIDERS[p]);
  container.replaceChildren(
    ...known.map((provider) =>
      h(
        'button',
        { type: 'button', class: 'secondary', 'data-provider': provider, onclick: (e) => onClick(provider, e.currentTarget) },
        h('img', { src: `/assets/pages/${PROVIDERS[provider].icon}`, alt: '', width: 20, height: 20 }),
        `Continue with ${PROVIDERS[provider].name}`,
      ),
    ),
  );
  container.hidden = known.length === 0;
  return known.length;
}
