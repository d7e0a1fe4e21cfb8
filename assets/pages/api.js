// Talking to latchkey from the pages.
//
// - gql(): POST /graphql, with the in-memory access token when there is one.
// - sessionGql(): POST /session/graphql, for the operations that sign in; the server
//   takes every refreshToken out of the answer and keeps it in an HttpOnly cookie.
// - refresh(): POST /session/refresh, the cookie for a fresh access token (and user).
// - logout(): POST /session/logout.
//
// The access token lives in this module only: never in localStorage or sessionStorage.

export const NETWORK_MESSAGE = 'The server could not be reached. Check your connection and try again.';

let accessToken = null;

/** An error to show: `message` is the API's own (errors[0].message) or ours. */
export class ApiError extends Error {
  constructor(message, code = null) {
    super(message);
    this.name = 'ApiError';
    this.code = code; // extensions.code, or NETWORK / HTTP
  }
}

async function post(path, body, headers = {}) {
  let res;
  try {
    res = await fetch(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
      body: JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } catch {
    throw new ApiError(NETWORK_MESSAGE, 'NETWORK');
  }
  let json = null;
  try {
    json = await res.json();
  } catch {
    // not JSON: handled below
  }
  if (!json || typeof json !== 'object') {
    throw new ApiError(`The server answered with an error (HTTP ${res.status}). Try again in a moment.`, 'HTTP');
  }
  return { status: res.status, json };
}

function dataOf({ status, json }) {
  if (Array.isArray(json.errors) && json.errors.length) {
    const first = json.errors[0];
    throw new ApiError(String(first.message || 'The request failed.'), first.extensions?.code ?? null);
  }
  if (!json.data) {
    throw new ApiError(`The server answered with an error (HTTP ${status}). Try again in a moment.`, 'HTTP');
  }
  return json.data;
}

/** A GraphQL operation on /graphql; sends the access token when one is held. */
export async function gql(query, variables = {}) {
  const headers = accessToken ? { authorization: `Bearer ${accessToken}` } : {};
  return dataOf(await post('/graphql', { query, variables }, headers));
}

/**
 * A signing-in operation on /session/graphql (the refresh token goes to a cookie). The
 * access token goes along when one is held: switching tenants and accepting an
 * invitation start a new session for the signed-in user.
 */
export async function sessionGql(query, variables = {}) {
  const headers = accessToken ? { authorization: `Bearer ${accessToken}` } : {};
  const data = dataOf(await post('/session/graphql', { query, variables }, headers));
  const token = findAccessToken(data);
  if (token) accessToken = token;
  return data;
}

function findAccessToken(value) {
  if (!value || typeof value !== 'object') return null;
  if (typeof value.accessToken === 'string') return value.accessToken;
  for (const v of Object.values(value)) {
    const t = findAccessToken(v);
    if (t) return t;
  }
  return null;
}

/**
 * Exchanges the session cookie for an access token. Resolves with the user, or null
 * when the browser is not signed in (401 UNAUTHENTICATED).
 */
export async function refresh() {
  // Tabs of this origin take turns (Web Locks): the cookie's refresh token is single
  // use, and two tabs presenting it at once would count as a replay and end the session.
  const exchange = () => post('/session/refresh', {});
  const res = navigator.locks ? await navigator.locks.request('latchkey-refresh', exchange) : await exchange();
  const code = res.json.errors?.[0]?.extensions?.code;
  if (res.status === 401 || code === 'UNAUTHENTICATED') {
    accessToken = null;
    return null;
  }
  const payload = dataOf(res).refreshToken;
  if (!payload?.accessToken) throw new ApiError('The server sent an unexpected answer. Reload the page.', 'HTTP');
  accessToken = payload.accessToken;
  return payload.user;
}

/** Ends this browser's session on the server and clears its cookies. */
export async function logout() {
  const res = await post('/session/logout', {});
  accessToken = null;
  if (res.status >= 400 || res.json.errors?.length) dataOf(res);
  return true;
}

export const signedIn = () => accessToken !== null;

/** The fields of the signed-in user every page may show. */
export const USER_FIELDS = 'id email emailVerified firstName username role twoFactorEnabled';

/** What a signing-in operation selects: tokens (the refresh token is taken out) and the user. */
export const AUTH_FIELDS = `accessToken refreshToken tokenType expiresIn user { ${USER_FIELDS} }`;

/** A LoginResult: signed in, or a second factor is needed. */
export const LOGIN_RESULT = `__typename
  ... on AuthPayload { ${AUTH_FIELDS} }
  ... on TwoFactorRequired { userId mfaToken methods }`;
