// Passkey sign-in (WebAuthn): a usernameless challenge from the server, the browser's
// navigator.credentials.get, and loginWithPasskey through /session/graphql.
import { ApiError, AUTH_FIELDS, gql, sessionGql } from './api.js';

const CHALLENGE = 'mutation { generatePasskeyLoginChallenge { options } }';
const LOGIN = `mutation ($credential: JSON!) { loginWithPasskey(credential: $credential) { ${AUTH_FIELDS} } }`;

/** Whether this browser can use passkeys with the JSON helpers the pages rely on. */
export function passkeysSupported() {
  return (
    typeof window.PublicKeyCredential === 'function' &&
    typeof PublicKeyCredential.parseRequestOptionsFromJSON === 'function' &&
    !!navigator.credentials
  );
}

/** Whether the browser offers passkeys in the email field's autofill (conditional UI). */
export async function conditionalSupported() {
  if (!passkeysSupported() || typeof PublicKeyCredential.isConditionalMediationAvailable !== 'function') return false;
  try {
    return await PublicKeyCredential.isConditionalMediationAvailable();
  } catch {
    return false;
  }
}

/** A readable message for what navigator.credentials.get threw. */
function browserMessage(e) {
  switch (e?.name) {
    case 'NotAllowedError':
      return 'The passkey sign-in was cancelled or timed out. Try again, or sign in with your password.';
    case 'SecurityError':
      return 'This browser refused to use a passkey on this address.';
    case 'InvalidStateError':
      return 'This passkey cannot be used here.';
    default:
      return `The browser could not use a passkey${e?.message ? ` (${e.message})` : ''}.`;
  }
}

/**
 * Signs in with a passkey. `conditional`: wait for the user to pick one in the email
 * field's autofill instead of opening the browser's dialog. Resolves with the
 * AuthPayload; rejects with an ApiError (code ABORTED when `signal` aborted it, BROWSER
 * when the browser refused; stage "challenge" when the server gave no challenge).
 */
export async function signInWithPasskey({ conditional = false, signal } = {}) {
  let challenge;
  try {
    ({ generatePasskeyLoginChallenge: challenge } = await gql(CHALLENGE));
  } catch (err) {
    err.stage = 'challenge';
    throw err;
  }
  const publicKey = challenge?.options?.publicKey;
  if (!publicKey) throw new ApiError('The server sent no passkey challenge. Reload the page and try again.', 'HTTP');
  let credential;
  try {
    credential = await navigator.credentials.get({
      publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(publicKey),
      mediation: conditional ? 'conditional' : 'optional',
      signal,
    });
  } catch (e) {
    if (signal?.aborted || e?.name === 'AbortError') throw new ApiError('aborted', 'ABORTED');
    throw new ApiError(browserMessage(e), 'BROWSER');
  }
  if (!credential) throw new ApiError(browserMessage(null), 'BROWSER');
  const { loginWithPasskey } = await sessionGql(LOGIN, { credential: credential.toJSON() });
  return loginWithPasskey;
}
