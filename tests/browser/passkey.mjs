// End-to-end passkey test in a real browser: Debian's Chromium, driven by playwright-core,
// with a CDP virtual authenticator standing in for the platform authenticator.
//
//   signup -> confirmEmailVerification (the outbox's link)
//   -> generatePasskeyRegistrationChallenge -> navigator.credentials.create
//   -> registerPasskey -> generatePasskeyLoginChallenge (no email: discoverable)
//   -> navigator.credentials.get -> loginWithPasskey -> me
//
// It starts the server itself (LATCHKEY_BIN, default target/debug/latchkey, relative to
// the repository root) on a free port with a throw-away SQLite database, and opens
// http://localhost:<port>/graphql so that the page's origin is the WebAuthn origin.
//
//   cargo build --locked && npm ci --prefix tests/browser && node tests/browser/passkey.mjs
//
// Environment: LATCHKEY_BIN (server binary), CHROMIUM (default /usr/bin/chromium).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const OVERALL_TIMEOUT_MS = 120_000;
const READY_TIMEOUT_MS = 30_000;
const PASSWORD = 'correct-Horse-battery-9';
const DEVICE_NAME = 'Chromium virtual authenticator';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = path.resolve(repoRoot, process.env.LATCHKEY_BIN || 'target/debug/latchkey');
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';

const started = Date.now();
const step = (msg) => console.log(`[${((Date.now() - started) / 1000).toFixed(1)}s] ${msg}`);

class TestFailure extends Error {}
const fail = (msg) => {
  throw new TestFailure(msg);
};

let server = null;
let serverExited = null; // resolves with {code, signal} when the server process ends
const serverLog = [];
let browser = null;
let tmpdir = null;
let cleaningUp = null;

async function cleanup() {
  if (cleaningUp) return cleaningUp;
  cleaningUp = (async () => {
    if (browser) {
      await browser.close().catch((e) => console.error(`closing the browser: ${e.message}`));
    }
    if (server && server.exitCode === null && server.signalCode === null) {
      server.kill('SIGTERM');
      const killer = setTimeout(() => server.kill('SIGKILL'), 5_000);
      await serverExited;
      clearTimeout(killer);
    }
  })();
  return cleaningUp;
}

let finishing = false;
async function finish(code, message) {
  if (finishing) return; // the first verdict (e.g. the timeout) wins
  finishing = true;
  if (message) console.error(message);
  await cleanup();
  if (code !== 0 && serverLog.length) {
    console.error('--- last lines of the server output ---');
    console.error(serverLog.join('').split('\n').slice(-40).join('\n'));
  }
  if (tmpdir) {
    if (code === 0) rmSync(tmpdir, { recursive: true, force: true });
    else console.error(`kept ${tmpdir} (database, outbox) for inspection`);
  }
  process.exit(code);
}

const timer = setTimeout(
  () => finish(1, `FAIL: the test did not finish within ${OVERALL_TIMEOUT_MS / 1000} s`),
  OVERALL_TIMEOUT_MS,
);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => finish(1, `interrupted (${sig})`));

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function startServer() {
  const port = await freePort();
  tmpdir = mkdtempSync(path.join(os.tmpdir(), 'latchkey-passkey-'));
  const origin = `http://localhost:${port}`;
  // Only our settings: any other LATCHKEY_ variable of the caller (LATCHKEY_BIN included,
  // which the server would reject as an unknown key) stays out; LATCHKEY_LOG may pass.
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('LATCHKEY_') || k === 'LATCHKEY_LOG'),
  );
  Object.assign(env, {
    LATCHKEY_DATABASE_URL: `sqlite://${tmpdir}/lk.db?mode=rwc`,
    LATCHKEY_LISTEN: `127.0.0.1:${port}`,
    LATCHKEY_PUBLIC_URL: origin,
    LATCHKEY_WEBAUTHN__RP_ID: 'localhost',
    LATCHKEY_WEBAUTHN__ORIGIN: origin,
    LATCHKEY_MAIL__OUTBOX_DIR: path.join(tmpdir, 'outbox'),
    NO_COLOR: '1', // plain server log lines, shown when the test fails
  });
  const shown = path.relative(repoRoot, bin).startsWith('..') ? bin : path.relative(repoRoot, bin);
  step(`starting ${shown} serve on ${origin} (data in ${tmpdir})`);
  // cwd: the temp dir, so that a developer's latchkey.toml in the repository is not read.
  server = spawn(bin, ['serve'], { cwd: tmpdir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  serverExited = new Promise((resolve) => server.on('exit', (code, signal) => resolve({ code, signal })));
  const spawnError = new Promise((resolve) => server.on('error', resolve));
  server.stdout.on('data', (d) => serverLog.push(d.toString()));
  server.stderr.on('data', (d) => serverLog.push(d.toString()));

  const deadline = Date.now() + READY_TIMEOUT_MS;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    const early = await Promise.race([
      serverExited.then((e) => `the server exited (code ${e.code}, signal ${e.signal})`),
      spawnError.then((e) => `the server could not be started: ${e.message} (build it with cargo build --locked)`),
      new Promise((r) => setTimeout(() => r(null), 200)),
    ]);
    if (early) fail(`${early} before /readyz answered 200`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/readyz`);
      if (res.status === 200) {
        step('server ready (GET /readyz: 200)');
        return { port, origin };
      }
      last = `HTTP ${res.status}`;
    } catch (e) {
      last = e.cause?.code || e.message;
    }
  }
  fail(`/readyz did not answer 200 within ${READY_TIMEOUT_MS / 1000} s (last: ${last})`);
}

function jwtPayload(token) {
  const part = token.split('.')[1];
  if (!part) fail(`the access token is not a JWT: ${token.slice(0, 20)}...`);
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
}

async function main() {
  const { origin } = await startServer();

  step(`launching ${executablePath}`);
  browser = await chromium.launch({
    executablePath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  step(`Chromium ${browser.version()}`);
  const page = await browser.newPage();
  page.on('console', (m) => {
    // (the aborted unpkg requests of GraphiQL log net::ERR_FAILED: expected, not shown)
    if (m.type() === 'error' && !m.text().includes('net::ERR_FAILED')) console.log(`  [page console] ${m.text()}`);
  });
  // GraphiQL loads its scripts from unpkg: not needed here, and CI may be offline.
  await page.route('**/*', (route) =>
    route.request().url().startsWith(`${origin}/`) ? route.continue() : route.abort(),
  );
  const nav = await page.goto(`${origin}/graphql`, { waitUntil: 'domcontentloaded' });
  if (nav?.status() !== 200) fail(`GET ${origin}/graphql answered ${nav?.status()}`);
  step(`opened ${page.url()} (GraphiQL page; page origin = WebAuthn origin)`);

  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  step(`virtual authenticator ${authenticatorId} (ctap2, internal, resident keys, UV)`);

  // One GraphQL request, sent by the page itself (fetch, same origin).
  async function gql(label, query, variables = {}, token = null) {
    const res = await page.evaluate(
      async ({ query, variables, token }) => {
        const headers = { 'content-type': 'application/json' };
        if (token) headers.authorization = `Bearer ${token}`;
        const r = await fetch('/graphql', { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
        return { status: r.status, text: await r.text() };
      },
      { query, variables, token },
    );
    let body;
    try {
      body = JSON.parse(res.text);
    } catch {
      fail(`${label}: HTTP ${res.status}, not JSON: ${res.text.slice(0, 500)}`);
    }
    if (body.errors?.length) {
      const errs = body.errors
        .map((e) => `  - ${e.extensions?.code ?? '(no code)'}: ${e.message}${e.path ? ` (at ${e.path.join('.')})` : ''}`)
        .join('\n');
      fail(`${label}: GraphQL error (HTTP ${res.status}):\n${errs}\n  full answer: ${res.text.slice(0, 2000)}`);
    }
    if (res.status !== 200 || !body.data) fail(`${label}: HTTP ${res.status}: ${res.text.slice(0, 2000)}`);
    return body.data;
  }

  // 1. signup
  const email = `passkey-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}@example.com`;
  const signup = await gql(
    'signup',
    `mutation ($email: String!, $password: String!) {
       signup(email: $email, password: $password) { auth { accessToken user { id email } } }
     }`,
    { email, password: PASSWORD },
  );
  const accessToken = signup.signup.auth.accessToken;
  step(`signup ${email}: user ${signup.signup.auth.user.id}`);

  // 1b. verify the email (passkeys need a proven mailbox): the link from the outbox.
  const outbox = path.join(tmpdir, 'outbox');
  let verifyToken = null;
  for (let i = 0; i < 100 && !verifyToken; i++) {
    let files = [];
    try {
      files = readdirSync(outbox);
    } catch {}
    // One .eml per message (written aside in .partial/ and renamed in).
    for (const f of files.filter((name) => name.endsWith('.eml'))) {
      const text = readFileSync(path.join(outbox, f), 'utf8')
        .replace(/=\r?\n/g, '')
        .replace(/=3D/g, '=');
      const m = text.includes(`To: ${email}`) && text.match(/\/verify-email\?token=([A-Za-z0-9_-]+)/);
      if (m) verifyToken = m[1];
    }
    if (!verifyToken) await new Promise((r) => setTimeout(r, 100));
  }
  if (!verifyToken) fail(`no verification email for ${email} in ${outbox}`);
  const confirmed = await gql(
    'confirmEmailVerification',
    'mutation ($t: String!) { confirmEmailVerification(token: $t) }',
    { t: verifyToken },
  );
  if (confirmed.confirmEmailVerification !== true) fail('confirmEmailVerification did not answer true');
  step('email verified with the link from the outbox');

  // 2. registration challenge
  const regChallenge = await gql(
    'generatePasskeyRegistrationChallenge',
    'mutation { generatePasskeyRegistrationChallenge { options } }',
    {},
    accessToken,
  );
  const creationOptions = regChallenge.generatePasskeyRegistrationChallenge.options;
  if (!creationOptions?.publicKey) fail(`registration options lack "publicKey": ${JSON.stringify(creationOptions)}`);
  step(
    `generatePasskeyRegistrationChallenge: rp ${JSON.stringify(creationOptions.publicKey.rp)}, ` +
      `authenticatorSelection ${JSON.stringify(creationOptions.publicKey.authenticatorSelection ?? null)}`,
  );

  // 3. navigator.credentials.create
  const credential = await page.evaluate(async (options) => {
    try {
      const cred = await navigator.credentials.create({
        publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options.publicKey),
      });
      return { ok: cred.toJSON() };
    } catch (e) {
      return { error: `${e.name}: ${e.message}` };
    }
  }, creationOptions);
  if (credential.error) {
    fail(`navigator.credentials.create failed: ${credential.error}\n  options given: ${JSON.stringify(creationOptions)}`);
  }
  step(`navigator.credentials.create: credential ${credential.ok.id}`);

  // 4. registerPasskey
  const reg = await gql(
    'registerPasskey',
    `mutation ($credential: JSON!, $deviceName: String!) {
       registerPasskey(credential: $credential, device_name: $deviceName) { id deviceName createdAt backedUp }
     }`,
    { credential: credential.ok, deviceName: DEVICE_NAME },
    accessToken,
  );
  const passkey = reg.registerPasskey;
  step(`registerPasskey: ${JSON.stringify(passkey)}`);
  if (passkey.deviceName !== DEVICE_NAME) {
    fail(`registerPasskey returned deviceName ${JSON.stringify(passkey.deviceName)}, expected ${JSON.stringify(DEVICE_NAME)}`);
  }
  const { credentials: stored } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
  if (!stored.some((c) => c.isResidentCredential)) {
    fail('the authenticator holds no discoverable (resident) credential: usernameless login cannot work');
  }

  // 5. login challenge, no email: discoverable / usernameless
  const loginChallenge = await gql(
    'generatePasskeyLoginChallenge',
    'mutation { generatePasskeyLoginChallenge { options } }',
  );
  const requestOptions = loginChallenge.generatePasskeyLoginChallenge.options;
  if (!requestOptions?.publicKey) fail(`login options lack "publicKey": ${JSON.stringify(requestOptions)}`);
  step(
    `generatePasskeyLoginChallenge (no email): rpId ${requestOptions.publicKey.rpId}, ` +
      `allowCredentials ${JSON.stringify(requestOptions.publicKey.allowCredentials ?? [])}`,
  );

  // 6. navigator.credentials.get
  const assertion = await page.evaluate(async (options) => {
    try {
      const cred = await navigator.credentials.get({
        publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options.publicKey),
      });
      return { ok: cred.toJSON() };
    } catch (e) {
      return { error: `${e.name}: ${e.message}` };
    }
  }, requestOptions);
  if (assertion.error) {
    fail(`navigator.credentials.get failed: ${assertion.error}\n  options given: ${JSON.stringify(requestOptions)}`);
  }
  step(`navigator.credentials.get: assertion by credential ${assertion.ok.id}`);

  // 7. loginWithPasskey
  const login = await gql(
    'loginWithPasskey',
    `mutation ($credential: JSON!) {
       loginWithPasskey(credential: $credential) { accessToken tokenType expiresIn user { id email } }
     }`,
    { credential: assertion.ok },
  );
  const passkeyToken = login.loginWithPasskey.accessToken;
  const claims = jwtPayload(passkeyToken);
  step(
    `loginWithPasskey: ${login.loginWithPasskey.tokenType} token for ${login.loginWithPasskey.user.email}, ` +
      `expires in ${login.loginWithPasskey.expiresIn} s`,
  );
  step(`access token amr: ${JSON.stringify(claims.amr)}`);

  // 8. me, with the passkey login's token
  const me = await gql('me', 'query { me { id email } }', {}, passkeyToken);
  step(`me: ${JSON.stringify(me.me)}`);
  if (me.me.email !== email) fail(`me.email is ${JSON.stringify(me.me.email)}, expected ${JSON.stringify(email)}`);
  if (me.me.id !== signup.signup.auth.user.id) fail(`me.id is ${me.me.id}, expected ${signup.signup.auth.user.id}`);

  step('PASS: passkey registration and usernameless login work in Chromium');
}

main().then(
  () => {
    clearTimeout(timer);
    return finish(0);
  },
  (err) => {
    clearTimeout(timer);
    return finish(1, err instanceof TestFailure ? `FAIL: ${err.message}` : `FAIL: ${err.stack || err}`);
  },
);
