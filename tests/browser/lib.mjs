// Shared parts of the end-to-end scripts in tests/browser: start the server on a free port
// with a throw-away SQLite database and mail outbox, run a test with an overall timeout,
// log steps, clean up (browser, server, temp dir), read the verification link from the
// outbox, and send GraphQL requests (from node or from a page).
//
// A script does:
//
//   import { run, startServer, launchBrowser, step, fail } from './lib.mjs';
//   run(async () => { const { origin } = await startServer(); ... }, { timeoutMs: 120_000 });
//
// Environment: LATCHKEY_BIN (server binary, default target/debug/latchkey, relative to the
// repository root), CHROMIUM (default /usr/bin/chromium).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const READY_TIMEOUT_MS = 30_000;

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const bin = path.resolve(repoRoot, process.env.LATCHKEY_BIN || 'target/debug/latchkey');
export const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'];

const started = Date.now();
export const step = (msg) => console.log(`[${((Date.now() - started) / 1000).toFixed(1)}s] ${msg}`);

export class TestFailure extends Error {}
export const fail = (msg) => {
  throw new TestFailure(msg);
};

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let server = null;
let serverExited = null; // resolves with {code, signal} when the server process ends
const serverLog = [];
let tmpdir = null;
const cleanups = []; // run last-registered first, before the server is stopped
let cleaningUp = null;

/** Registers fn (async) to run at the end, pass or fail (e.g. closing a browser). */
export function onCleanup(fn) {
  cleanups.push(fn);
}

async function cleanup() {
  if (cleaningUp) return cleaningUp;
  cleaningUp = (async () => {
    for (const fn of cleanups.reverse()) {
      await Promise.resolve()
        .then(fn)
        .catch((e) => console.error(`cleanup: ${e.message}`));
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

/**
 * Runs main() with an overall timeout; exits 0 when it resolves (and did not call
 * process.exitCode = 1), 1 when it throws (TestFailure: its message; else the stack).
 */
export function run(main, { timeoutMs = 120_000 } = {}) {
  const timer = setTimeout(
    () => finish(1, `FAIL: the test did not finish within ${timeoutMs / 1000} s`),
    timeoutMs,
  );
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => finish(1, `interrupted (${sig})`));
  main().then(
    () => {
      clearTimeout(timer);
      return finish(process.exitCode ?? 0);
    },
    (err) => {
      clearTimeout(timer);
      return finish(1, err instanceof TestFailure ? `FAIL: ${err.message}` : `FAIL: ${err.stack || err}`);
    },
  );
}

export function freePort() {
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

/**
 * Starts `latchkey serve` on a free port of 127.0.0.1, public URL http://localhost:<port>
 * (also the WebAuthn origin), database and outbox in a new temp dir; resolves when
 * GET /readyz answers 200. `env`: more settings (LATCHKEY_... variables) for this server.
 * Returns { port, origin, tmpdir, outbox, database } (database: the SQLite file).
 */
export async function startServer({ tmpPrefix = 'latchkey-browser-', env: extraEnv = {} } = {}) {
  const port = await freePort();
  tmpdir = mkdtempSync(path.join(os.tmpdir(), tmpPrefix));
  const origin = `http://localhost:${port}`;
  const outbox = path.join(tmpdir, 'outbox');
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
    LATCHKEY_MAIL__OUTBOX_DIR: outbox,
    NO_COLOR: '1', // plain server log lines, shown when the test fails
  });
  Object.assign(env, extraEnv);
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
      sleep(200).then(() => null),
    ]);
    if (early) fail(`${early} before /readyz answered 200`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/readyz`);
      if (res.status === 200) {
        step('server ready (GET /readyz: 200)');
        return { port, origin, tmpdir, outbox, database: path.join(tmpdir, 'lk.db') };
      }
      last = `HTTP ${res.status}`;
    } catch (e) {
      last = e.cause?.code || e.message;
    }
  }
  fail(`/readyz did not answer 200 within ${READY_TIMEOUT_MS / 1000} s (last: ${last})`);
}

/** Launches Chromium (closed at the end). */
export async function launchBrowser() {
  step(`launching ${chromiumPath}`);
  const browser = await chromium.launch({ executablePath: chromiumPath, args: CHROMIUM_ARGS });
  onCleanup(() => browser.close());
  step(`Chromium ${browser.version()}`);
  return browser;
}

/**
 * The token of the /verify-email?token=... link in the outbox's message to `email`
 * (one .eml per message, written aside in .partial/ and renamed in); waits up to 10 s.
 */
export async function readVerificationToken(outbox, email) {
  for (let i = 0; i < 100; i++) {
    let files = [];
    try {
      files = readdirSync(outbox);
    } catch {}
    for (const f of files.filter((name) => name.endsWith('.eml'))) {
      const text = readFileSync(path.join(outbox, f), 'utf8')
        .replace(/=\r?\n/g, '')
        .replace(/=3D/g, '=');
      const m = text.includes(`To: ${email}`) && text.match(/\/verify-email\?token=([A-Za-z0-9_-]+)/);
      if (m) return m[1];
    }
    await sleep(100);
  }
  fail(`no verification email for ${email} in ${outbox}`);
}

/**
 * A GraphQL helper: gql(label, query, variables = {}, token = null) resolves with `data`,
 * and fails (with the errors' codes and messages) on a GraphQL error, a non-JSON answer or
 * a status other than 200. `send({ query, variables, token })` resolves with
 * { status, text }: see nodeSender and pageSender.
 */
export function makeGql(send) {
  return async function gql(label, query, variables = {}, token = null) {
    const res = await send({ query, variables, token });
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
  };
}

/** Sends from node (fetch), to `${origin}/graphql`. */
export function nodeSender(origin) {
  return async ({ query, variables, token }) => {
    const headers = { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' };
    if (token) headers.authorization = `Bearer ${token}`;
    const r = await fetch(`${origin}/graphql`, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
    return { status: r.status, text: await r.text() };
  };
}

/** Sends from the page itself (fetch, same origin, /graphql). */
export function pageSender(page) {
  return ({ query, variables, token }) =>
    page.evaluate(
      async ({ query, variables, token }) => {
        const headers = { 'content-type': 'application/json' };
        if (token) headers.authorization = `Bearer ${token}`;
        const r = await fetch('/graphql', { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
        return { status: r.status, text: await r.text() };
      },
      { query, variables, token },
    );
}

/** A fresh, unique address for a test account. */
export const uniqueEmail = (prefix) =>
  `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}@example.com`;

/**
 * signup -> confirmEmailVerification (the outbox's link) -> login, by `gql`.
 * Returns { email, password, userId, accessToken } (accessToken: the login's).
 */
export async function signupVerifyLogin(gql, outbox, { prefix = 'browser', password = 'correct-Horse-battery-9' } = {}) {
  const email = uniqueEmail(prefix);
  const signup = await gql(
    'signup',
    `mutation ($email: String!, $password: String!) {
       signup(email: $email, password: $password) { auth { accessToken user { id email } } }
     }`,
    { email, password },
  );
  const userId = signup.signup.auth.user.id;
  step(`signup ${email}: user ${userId}`);
  const t = await readVerificationToken(outbox, email);
  const confirmed = await gql('confirmEmailVerification', 'mutation ($t: String!) { confirmEmailVerification(token: $t) }', { t });
  if (confirmed.confirmEmailVerification !== true) fail('confirmEmailVerification did not answer true');
  step('email verified with the link from the outbox');
  const login = await gql(
    'login',
    `mutation ($email: String!, $password: String!) {
       login(email: $email, password: $password) {
         __typename
         ... on AuthPayload { accessToken user { id email } }
       }
     }`,
    { email, password },
  );
  if (login.login.__typename !== 'AuthPayload') fail(`login answered ${login.login.__typename}, not AuthPayload`);
  if (login.login.user.id !== userId) fail(`login answered user ${login.login.user.id}, signup ${userId}`);
  step(`login: access token for user ${userId}`);
  return { email, password, userId, accessToken: login.login.accessToken };
}

/**
 * A CDP virtual authenticator on `page`'s context, as a platform authenticator with
 * resident keys and user verification: { cdp, authenticatorId }.
 */
export async function addVirtualAuthenticator(page) {
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
  return { cdp, authenticatorId };
}
