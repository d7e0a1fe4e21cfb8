// Shared parts of the console tests (console-*.mjs: /account, /account/keys,
// /account/security, /admin), on top of lib.mjs and pages-lib.mjs: screenshots into
// docs/console/, signing in on /login, the confirmation dialogs, API calls with a
// token or an API key from node, the latchkey CLI against the test server's database,
// and a look at the page's whole DOM for a secret.
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { bin, fail, repoRoot, sleep, step } from './lib.mjs';
import { DESKTOP, PAGES_ENV, PHONE, expectPath, expectText } from './pages-lib.mjs';

export const SHOTS = path.join(repoRoot, 'docs', 'console');

/** The settings of every console test's server (on top of lib.mjs's). */
export const CONSOLE_ENV = { ...PAGES_ENV };

/**
 * Saves docs/console/<name>.png at 1280x800 and <name>-phone.png at 390x844 (unless
 * `phone: false`); fails when the page scrolls sideways on the phone. `full`: the whole
 * page, not only the viewport; `at`: a selector scrolled to the top first.
 */
export async function shoot(page, name, { phone = true, full = false, at = null } = {}) {
  mkdirSync(SHOTS, { recursive: true });
  const scroll = async () => {
    if (at) await page.locator(at).first().evaluate((el) => el.scrollIntoView({ block: 'start' }));
  };
  await page.mouse.move(0, 0);
  await scroll();
  await sleep(150);
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: full });
  if (!phone) {
    step(`saved docs/console/${name}.png`);
    return;
  }
  await page.setViewportSize(PHONE);
  await sleep(200);
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  if (width > PHONE.width) fail(`${name}: the page is ${width} px wide at ${PHONE.width} px (it scrolls sideways)`);
  await scroll();
  await page.screenshot({ path: path.join(SHOTS, `${name}-phone.png`), fullPage: full });
  await page.setViewportSize(DESKTOP);
  await sleep(100);
  step(`saved docs/console/${name}.png and ${name}-phone.png`);
}

/** Signs in on /login with a password (no second factor) and lands on `next`. */
export async function signIn(page, origin, email, password, next = '/account') {
  await page.goto(`${origin}/login?next=${encodeURIComponent(next)}`);
  await page.fill('#email', email);
  await page.fill('#password', password);
  await page.click('#login-submit');
  await expectPath(page, next);
  await page.waitForSelector('#console-nav a', { state: 'visible' });
}

/** The console page `path`, loaded (its navigation drawn). */
export async function open(page, origin, pathname) {
  await page.goto(`${origin}${pathname}`);
  await page.waitForSelector('#console-nav a', { state: 'visible' });
}

/** Signs out with the navigation's "Sign out". */
export async function signOut(page) {
  await page.click('#nav-sign-out');
  await expectPath(page, '/login');
}

/**
 * The open confirmation dialog: checks its title, then confirms (or cancels). The
 * focus must be in it (on Cancel) while it is open.
 */
export async function answerDialog(page, title, { confirm = true } = {}) {
  const dialog = page.locator('dialog[open]');
  await dialog.waitFor({ state: 'visible', timeout: 10_000 });
  await expectText(page, 'dialog[open] h2', title);
  const focused = await page.evaluate(() => !!document.activeElement?.closest('dialog[open]'));
  if (!focused) fail(`the focus is not in the dialog "${title}"`);
  await dialog.locator(confirm ? '[data-confirm]' : '[data-cancel]').click();
  await dialog.waitFor({ state: 'detached', timeout: 10_000 });
}

/** POSTs a GraphQL request from node with `headers`; resolves with the parsed body. */
export async function post(origin, query, variables = {}, headers = {}) {
  const r = await fetch(`${origin}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  return r.json();
}

export const bearer = (token) => ({ authorization: `Bearer ${token}` });

/** `{ me { id } }` with an API key (X-API-Key): the user id, or the error's code and message. */
export async function meWithKey(origin, key) {
  const body = await post(origin, '{ me { id } }', {}, { 'x-api-key': key });
  return body.data?.me ? { id: body.data.me.id } : { code: body.errors?.[0]?.extensions?.code, message: body.errors?.[0]?.message };
}

/** `{ me { id } }` with an access token: the user id, or the error's code and message. */
export async function meWithToken(origin, token) {
  const body = await post(origin, '{ me { id } }', {}, bearer(token));
  return body.data?.me ? { id: body.data.me.id } : { code: body.errors?.[0]?.extensions?.code, message: body.errors?.[0]?.message };
}

/** The message of the error `query` answers with `headers` (fails when there is none). */
export async function errorOf(origin, label, query, variables, headers) {
  const body = await post(origin, query, variables, headers);
  const message = body.errors?.[0]?.message;
  if (!message) fail(`${label}: expected an error, got ${JSON.stringify(body).slice(0, 400)}`);
  return message;
}

/** A password login from node (a session of its own, User-Agent "node"): its access token. */
export async function nodeLogin(origin, email, password) {
  const body = await post(origin, 'mutation ($e: String!, $p: String!) { login(email: $e, password: $p) { ... on AuthPayload { accessToken } } }', {
    e: email,
    p: password,
  });
  const token = body.data?.login?.accessToken;
  if (!token) fail(`login from node failed: ${JSON.stringify(body).slice(0, 400)}`);
  return token;
}

/**
 * Runs the latchkey CLI (`args`, e.g. ['user', 'set-role', email, 'ADMIN']) with the test
 * server's settings: the same LATCHKEY_ variables lib.mjs's startServer gives it
 * (database, outbox, WebAuthn), plus `env`.
 */
export function cli(server, args, env = {}) {
  const settings = {
    LATCHKEY_DATABASE_URL: `sqlite://${server.tmpdir}/lk.db?mode=rwc`,
    LATCHKEY_LISTEN: `127.0.0.1:${server.port}`,
    LATCHKEY_PUBLIC_URL: server.origin,
    LATCHKEY_WEBAUTHN__RP_ID: 'localhost',
    LATCHKEY_WEBAUTHN__ORIGIN: server.origin,
    LATCHKEY_MAIL__OUTBOX_DIR: server.outbox,
    ...env,
  };
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('LATCHKEY_')));
  const out = execFileSync(bin, args, { cwd: server.tmpdir, env: { ...base, ...settings, NO_COLOR: '1' }, encoding: 'utf8' });
  step(`latchkey ${args.join(' ')}: ${out.trim().split('\n').pop()}`);
  return out;
}

/** Fails when `secret` is anywhere in the page's DOM (the whole document's HTML). */
export async function assertNotInPage(page, secret, what) {
  const found = await page.evaluate(
    (s) => document.documentElement.outerHTML.includes(s) || document.body.innerHTML.includes(s) || [...document.querySelectorAll('input, textarea')].some((i) => i.value.includes(s)),
    secret,
  );
  if (found) fail(`${what} is still in the page (${page.url()})`);
}

/** The texts of `selector`'s matches, trimmed. */
export const texts = (page, selector) => page.$$eval(selector, (els) => els.map((e) => e.textContent.trim()));
