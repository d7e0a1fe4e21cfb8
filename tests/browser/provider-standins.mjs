// Stand-ins for Google and GitHub on 127.0.0.1 (one node HTTP server, a free port),
// speaking what the real ones speak to a browser and to latchkey (as tests/api/providers.rs
// does for the API tests):
//
// - the OAuth 2.0 authorization-code flow with PKCE (RFC 6749, RFC 7636):
//   GET /{p}/authorize checks the request (client, redirect URI, state, S256 challenge;
//   Google: openid scope and a nonce) and answers 302 to the redirect URI with a one-time
//   code and the state; POST /{p}/token checks the client secret (HTTP Basic or the
//   body), the code, the redirect URI and the PKCE verifier, then answers an access
//   token, and for Google an OpenID Connect ID token (RS256, with the nonce of the
//   authorization request) whose key is at GET /google/jwks;
// - GitHub's API: POST /github/applications/{client_id}/token (the token check, HTTP
//   Basic with the app's id and secret), GET /github/user and /github/user/emails
//   (Bearer token; a User-Agent is required, as GitHub requires it).
import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import http from 'node:http';

export const GOOGLE = { clientId: 'google-web.apps.example', clientSecret: 'google-secret', issuer: 'https://accounts.google.com' };
export const GITHUB = { clientId: 'github-client-id', clientSecret: 'github-secret' };
const KID = 'standin-rsa-1';

const b64url = (buf) => Buffer.from(buf).toString('base64url');
const random = () => randomBytes(12).toString('hex');

function sendJson(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

const readBody = (req) =>
  new Promise((resolve) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });

/** The client of a token request: HTTP Basic (form-urlencoded parts) or the form body. */
function clientOf(req, form) {
  const auth = req.headers.authorization || '';
  if (auth.startsWith('Basic ')) {
    const [id, secret] = Buffer.from(auth.slice(6), 'base64').toString('utf8').split(':');
    const unform = (s) => decodeURIComponent((s || '').replace(/\+/g, ' '));
    return { id: unform(id), secret: unform(secret) };
  }
  return { id: form.get('client_id'), secret: form.get('client_secret') };
}

export async function startProviders() {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid: KID, alg: 'RS256', use: 'sig' };
  const state = {
    next: {}, // provider -> the person who signs in at its authorize endpoint
    authorizations: [], // { provider, params }
    redirects: [], // the URLs the browser was sent back to
    tokenRequests: [], // { provider, form, basic }
    apiRequests: [], // { path, userAgent }
    grants: new Map(), // code -> { provider, clientId, redirectUri, challenge, nonce, person, used }
    tokens: new Map(), // access token -> { provider, person }
    tokenDelayMs: 0,
  };

  /** An ID token as Google issues it, for `person` (nonce when given). */
  function idToken(person, { nonce, aud = GOOGLE.clientId } = {}) {
    const now = Math.floor(Date.now() / 1000);
    const claims = {
      iss: GOOGLE.issuer,
      aud,
      azp: aud,
      sub: person.sub,
      email: person.email,
      email_verified: true,
      given_name: person.name,
      name: person.name,
      iat: now,
      exp: now + 3600,
      ...(nonce ? { nonce } : {}),
    };
    const input = `${b64url(JSON.stringify({ alg: 'RS256', kid: KID, typ: 'JWT' }))}.${b64url(JSON.stringify(claims))}`;
    return `${input}.${b64url(sign('sha256', Buffer.from(input), privateKey))}`;
  }

  function authorize(provider, url, res) {
    const q = url.searchParams;
    state.authorizations.push({ provider, params: Object.fromEntries(q) });
    const expected = provider === 'google' ? GOOGLE.clientId : GITHUB.clientId;
    const bad = (why) => {
      res.writeHead(400, { 'content-type': 'text/plain' });
      res.end(`stand-in ${provider}: ${why}`);
    };
    if (q.get('response_type') !== 'code') return bad('response_type must be code');
    if (q.get('client_id') !== expected) return bad(`unknown client_id ${q.get('client_id')}`);
    if (!q.get('redirect_uri') || !q.get('state')) return bad('redirect_uri and state are required');
    if (!q.get('code_challenge') || q.get('code_challenge_method') !== 'S256') return bad('PKCE S256 is required');
    const scopes = (q.get('scope') || '').split(' ');
    if (provider === 'google' && (!scopes.includes('openid') || !scopes.includes('email') || !q.get('nonce'))) {
      return bad('Google: scope openid email and a nonce are required');
    }
    if (provider === 'github' && !scopes.includes('user:email')) return bad('GitHub: scope user:email is required');
    const person = state.next[provider];
    if (!person) return bad('the test chose nobody to sign in');
    const code = `${provider}-code-${random()}`;
    state.grants.set(code, {
      provider,
      clientId: q.get('client_id'),
      redirectUri: q.get('redirect_uri'),
      challenge: q.get('code_challenge'),
      nonce: q.get('nonce'),
      person,
      used: false,
    });
    const back = new URL(q.get('redirect_uri'));
    back.searchParams.set('code', code);
    back.searchParams.set('state', q.get('state'));
    state.redirects.push(back.toString());
    res.writeHead(302, { location: back.toString() });
    res.end();
  }

  async function token(provider, req, res) {
    const form = new URLSearchParams(await readBody(req));
    const client = clientOf(req, form);
    state.tokenRequests.push({ provider, form: Object.fromEntries(form), basic: (req.headers.authorization || '').startsWith('Basic ') });
    if (state.tokenDelayMs) await new Promise((r) => setTimeout(r, state.tokenDelayMs));
    const app = provider === 'google' ? GOOGLE : GITHUB;
    const error = (status, code, why) => sendJson(res, status, { error: code, error_description: why });
    if (form.get('grant_type') !== 'authorization_code') return error(400, 'unsupported_grant_type', 'grant_type');
    if (client.id !== app.clientId || client.secret !== app.clientSecret) return error(401, 'invalid_client', 'wrong client');
    const grant = state.grants.get(form.get('code') || '');
    if (!grant) return error(400, 'invalid_grant', 'unknown code');
    if (grant.used) return error(400, 'invalid_grant', 'code already used');
    grant.used = true;
    if (grant.provider !== provider || grant.clientId !== client.id) return error(400, 'invalid_grant', 'code of another client');
    if (grant.redirectUri !== form.get('redirect_uri')) return error(400, 'invalid_grant', 'redirect_uri mismatch');
    const verifier = form.get('code_verifier') || '';
    if (verifier.length < 43 || b64url(createHash('sha256').update(verifier).digest()) !== grant.challenge) {
      return error(400, 'invalid_grant', 'code_verifier does not match code_challenge');
    }
    const access = `${provider}-at-${random()}`;
    state.tokens.set(access, { provider, person: grant.person });
    if (provider === 'google') {
      return sendJson(res, 200, {
        access_token: access,
        token_type: 'Bearer',
        expires_in: 3599,
        scope: 'openid email profile',
        id_token: idToken(grant.person, { nonce: grant.nonce, aud: grant.clientId }),
      });
    }
    return sendJson(res, 200, { access_token: access, token_type: 'bearer', scope: 'read:user,user:email' });
  }

  function githubPerson(req) {
    const auth = req.headers.authorization || '';
    const t = auth.replace(/^(Bearer|token) /, '');
    const found = state.tokens.get(t);
    return found?.provider === 'github' ? found.person : null;
  }

  async function github(path, req, res) {
    state.apiRequests.push({ path, userAgent: req.headers['user-agent'] || null });
    if (!req.headers['user-agent']) {
      return sendJson(res, 403, { message: 'Request forbidden by administrative rules. Please make sure your request has a User-Agent header' });
    }
    const check = path.match(/^\/github\/applications\/([^/]+)\/token$/);
    if (check && req.method === 'POST') {
      const basic = `Basic ${Buffer.from(`${GITHUB.clientId}:${GITHUB.clientSecret}`).toString('base64')}`;
      if (check[1] !== GITHUB.clientId || req.headers.authorization !== basic) return sendJson(res, 401, { message: 'Requires authentication' });
      const body = JSON.parse((await readBody(req)) || '{}');
      const found = state.tokens.get(body.access_token);
      if (found?.provider !== 'github') return sendJson(res, 404, { message: 'Not Found' });
      return sendJson(res, 200, { token: body.access_token, app: { client_id: GITHUB.clientId }, user: { id: Number(found.person.sub) } });
    }
    const person = githubPerson(req);
    if (!person) return sendJson(res, 401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest' });
    if (path === '/github/user') {
      return sendJson(res, 200, { id: Number(person.sub), login: `user${person.sub}`, name: person.name, email: null, type: 'User' });
    }
    if (path === '/github/user/emails') {
      return sendJson(res, 200, [{ email: person.email, primary: true, verified: true, visibility: 'private' }]);
    }
    return sendJson(res, 404, { message: 'Not Found' });
  }

  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://standin');
    const p = url.pathname;
    try {
      const m = p.match(/^\/(google|github)\/(authorize|token)$/);
      if (m && m[2] === 'authorize' && req.method === 'GET') return authorize(m[1], url, res);
      if (m && m[2] === 'token' && req.method === 'POST') return await token(m[1], req, res);
      if (p === '/google/jwks') return sendJson(res, 200, { keys: [jwk] });
      if (p.startsWith('/github/')) return await github(p, req, res);
      sendJson(res, 404, { error: 'not_found' });
    } catch (e) {
      sendJson(res, 500, { error: 'server_error', error_description: String(e) });
    }
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${server.address().port}`;

  return {
    origin,
    state,
    idToken,
    close: () =>
      new Promise((r) => {
        server.close(r);
        server.closeAllConnections();
      }),
    /**
     * The server's settings for both providers (LATCHKEY_ variables). Google's issuer is
     * left at its default (https://accounts.google.com, what the stand-in signs), as a
     * deployment leaves it.
     */
    env: {
      LATCHKEY_OAUTH__GOOGLE__CLIENT_ID: GOOGLE.clientId,
      LATCHKEY_OAUTH__GOOGLE__CLIENT_SECRET: GOOGLE.clientSecret,
      LATCHKEY_OAUTH__GOOGLE__AUTH_URL: `${origin}/google/authorize`,
      LATCHKEY_OAUTH__GOOGLE__TOKEN_URL: `${origin}/google/token`,
      LATCHKEY_OAUTH__GOOGLE__JWKS_URL: `${origin}/google/jwks`,
      LATCHKEY_OAUTH__GITHUB__CLIENT_ID: GITHUB.clientId,
      LATCHKEY_OAUTH__GITHUB__CLIENT_SECRET: GITHUB.clientSecret,
      LATCHKEY_OAUTH__GITHUB__AUTH_URL: `${origin}/github/authorize`,
      LATCHKEY_OAUTH__GITHUB__TOKEN_URL: `${origin}/github/token`,
      LATCHKEY_OAUTH__GITHUB__API_URL: `${origin}/github`,
    },
    /** Who signs in at `provider` from now on. */
    nextUser(provider, person) {
      state.next[provider] = person;
    },
  };
}
