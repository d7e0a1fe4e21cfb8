// /account/security in a real browser (Debian's Chromium, playwright-core): the password
// and two-step verification.
//
//   change the password: a wrong current password and a weak new one get the API's
//   messages next to their fields; then it changes and the other session's token is
//   refused; two-step verification: "Set up" shows the QR code and the key, a wrong code
//   gets the API's message, the code computed here from the key read off the page
//   (RFC 6238) turns it on; the ten recovery codes once (copied, downloaded as a .txt
//   through a Blob URL), gone from the DOM after "Done"; then /login asks for the second
//   step: a code signs in, and separately a recovery code does; new recovery codes (the
//   old ones then fail); turning it off (confirmed); and a session older than 15
//   minutes gets the API's "Sign in again to ..." with a link to sign in.
//
// Screenshots in docs/console/: security, security-password-error, security-2fa-setup,
// security-2fa-error, security-recovery-codes, security-2fa-on, security-stale (and
// -phone.png of each).
//
//   cargo build --locked && npm ci --prefix tests/browser && node tests/browser/console-security.mjs
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fail, launchBrowser, makeGql, nodeSender, run, signupVerifyLogin, sleep, startServer, step } from './lib.mjs';
import { DESKTOP, assertClean, authenticator, expectFieldError, expectPath, expectText, totp, watch } from './pages-lib.mjs';
import { CONSOLE_ENV, answerDialog, assertNotInPage, bearer, errorOf, meWithToken, nodeLogin, open, shoot, signIn, signOut } from './console-lib.mjs';

const NEW_PASSWORD = 'staple-Orbit-lantern-42';
const CHANGE = 'mutation ($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }';

/** A 6-digit code that is none of the key's codes around now. */
function wrongCode(secret) {
  const now = Math.floor(Date.now() / 30_000);
  return ['000000', '111111', '222222'].find((c) => ![now - 1, now, now + 1, now + 2].some((s) => totp(secret, s) === c));
}

/** Makes every session of the SQLite database older than 20 minutes (a stale sign-in). */
function ageSessions(database) {
  const script = [
    'import sqlite3, sys, time',
    'db = sqlite3.connect(sys.argv[1])',
    'n = db.execute("UPDATE sessions SET created_at = ?", (int(time.time()) - 1200,)).rowcount',
    'db.commit()',
    'print(n)',
  ].join('\n');
  return Number(execFileSync('python3', ['-c', script, database], { encoding: 'utf8' }).trim());
}

async function secondStep(page, origin, email, password, code, { recovery = false } = {}) {
  await page.goto(`${origin}/login?next=%2Faccount%2Fsecurity`);
  await page.fill('#email', email);
  await page.fill('#password', password);
  await page.click('#login-submit');
  await expectText(page, '#mfa-heading', 'Two-step verification');
  if (recovery) await page.click('#mfa-switch');
  await page.fill('#mfa-code', code);
  await page.click('#mfa-form button[type="submit"]');
  await expectPath(page, '/account/security');
  await page.waitForSelector('#twofa-state');
}

async function main() {
  const server = await startServer({ tmpPrefix: 'latchkey-console-security-', env: CONSOLE_ENV });
  const { origin, outbox, database } = server;
  const api = makeGql(nodeSender(origin));
  const { email, password, userId, accessToken: otherSession } = await signupVerifyLogin(api, outbox, { prefix: 'security' });

  const browser = await launchBrowser();
  const context = await browser.newContext({ viewport: DESKTOP, acceptDownloads: true });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin });
  const page = await context.newPage();
  const watcher = await watch(page, origin);
  await signIn(page, origin, email, password, '/account/security');
  await page.waitForSelector('#sessions li');
  await shoot(page, 'security');

  // 1. The password: the API's refusals next to their fields, then the change.
  const wrongCurrent = await errorOf(origin, 'changePassword (wrong)', CHANGE, { c: 'not-my-Password-1', n: NEW_PASSWORD }, bearer(otherSession));
  await page.fill('#current-password', 'not-my-Password-1');
  await page.fill('#new-password', NEW_PASSWORD);
  await page.click('#password-submit');
  await expectFieldError(page, '#current-password', wrongCurrent);
  const weak = await errorOf(origin, 'changePassword (weak)', CHANGE, { c: password, n: 'password' }, bearer(otherSession));
  await page.fill('#current-password', password);
  await page.fill('#new-password', 'password');
  await page.click('#password-submit');
  await expectFieldError(page, '#new-password', weak);
  await shoot(page, 'security-password-error', { at: '#password-section' });
  step(`password: "${wrongCurrent}" and "${weak}" next to their fields`);
  await page.fill('#new-password', NEW_PASSWORD);
  await page.click('#password-submit');
  await expectText(page, '#password-done', 'Your password was changed. Your other sessions were signed out.');
  const other = await meWithToken(origin, otherSession);
  if (other.code !== 'UNAUTHENTICATED') fail(`the other session still works after the change: ${JSON.stringify(other)}`);
  if ((await page.inputValue('#current-password')) !== '') fail('the password fields were not cleared');
  step('password changed; the other session (from node) is refused; this one goes on');

  // 2. Two-step verification: the setup, a wrong code, the right one.
  await page.click('#twofa-start');
  await page.waitForSelector('#totp-qr');
  const qr = await page.$eval('#totp-qr', (img) => ({ ok: img.complete && img.naturalWidth > 0, alt: img.alt, src: img.src.slice(0, 22) }));
  if (!qr.ok || qr.src !== 'data:image/png;base64,' || !qr.alt) fail(`the QR code image: ${JSON.stringify(qr)}`);
  const key = (await page.textContent('#totp-secret')).replace(/\s+/g, '');
  if (!/^[A-Z2-7]{16,}$/.test(key)) fail(`the key on the page is ${JSON.stringify(key)}`);
  if (!(await page.evaluate(() => document.activeElement?.id === 'totp-setup-heading'))) fail('the focus is not on the setup heading');
  await shoot(page, 'security-2fa-setup', { at: '#twofa-section' });
  const bad = wrongCode(key);
  await page.fill('#totp-code', bad);
  await page.click('#totp-enable');
  const badMessage = 'That code is not valid; enter the current code from your authenticator app.';
  await expectFieldError(page, '#totp-code', badMessage);
  await shoot(page, 'security-2fa-error', { phone: false, at: '#totp-secret-label' });
  const app = authenticator(key);
  await page.fill('#totp-code', await app.code());
  await page.click('#totp-enable');
  await page.waitForSelector('#recovery-codes li');
  const codes = (await page.$$eval('#recovery-codes code', (els) => els.map((e) => e.textContent.trim())));
  if (codes.length !== 10 || new Set(codes).size !== 10) fail(`the page shows ${codes.length} recovery codes: ${codes.join(', ')}`);
  await expectText(page, '#recovery-box .warning', /you will not see them again/);
  step(`two-step: QR code and key ${key.slice(0, 4)}…; "${badMessage}" for a wrong code; on with a computed code; 10 recovery codes`);

  // 3. The codes: copied, downloaded as a file, then gone from the page.
  await page.click('#codes-copy');
  if ((await page.evaluate(() => navigator.clipboard.readText())) !== codes.join('\n')) fail('"Copy all" did not copy the ten codes');
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#codes-download')]);
  if (download.suggestedFilename() !== 'latchkey-recovery-codes.txt') fail(`the download is named ${download.suggestedFilename()}`);
  if (!download.url().startsWith('blob:')) fail(`the download came from ${download.url()}, not a Blob URL`);
  const file = readFileSync(await download.path(), 'utf8');
  if (!codes.every((c) => file.includes(c)) || !file.includes(email)) fail(`the downloaded file lacks codes or the address:\n${file}`);
  await shoot(page, 'security-recovery-codes', { at: '#twofa-section' });
  await page.click('#codes-done');
  await expectText(page, '#twofa-state', /On/);
  for (const c of codes) await assertNotInPage(page, c, 'a recovery code, after "Done"');
  await shoot(page, 'security-2fa-on', { phone: false, at: '#twofa-section' });
  step('codes copied and downloaded (latchkey-recovery-codes.txt from a blob: URL); after "Done" none is in the page');

  // 4. Signing in now takes the second step: with a code, and with a recovery code.
  await signOut(page);
  await secondStep(page, origin, email, NEW_PASSWORD, await app.code());
  step('signed in with the password and a TOTP code');
  await signOut(page);
  await secondStep(page, origin, email, NEW_PASSWORD, codes[0], { recovery: true });
  step('signed in with the password and a recovery code');

  // 5. New recovery codes: the old ones stop working.
  await page.fill('#twofa-manage-code', await app.code());
  await page.click('#codes-regenerate');
  await expectText(page, '#recovery-heading', 'New recovery codes');
  const fresh = await page.$$eval('#recovery-codes code', (els) => els.map((e) => e.textContent.trim()));
  if (fresh.length !== 10 || fresh.some((c) => codes.includes(c))) fail(`the new codes: ${fresh.join(', ')}`);
  await page.click('#codes-done');
  const { login: pending } = await api('login', 'mutation ($e: String!, $p: String!) { login(email: $e, password: $p) { ... on TwoFactorRequired { userId mfaToken } } }', { e: email, p: NEW_PASSWORD });
  const oldCode = await errorOf(origin, 'verify_2fa_code (old code)', 'mutation ($u: ID!, $t: String!, $m: String) { verify_2fa_code(user_id: $u, token: $t, mfa_token: $m) { accessToken } }', { u: pending.userId, t: codes[1], m: pending.mfaToken });
  step(`new recovery codes from the page; an old one is refused ("${oldCode}")`);

  // 6. Turning it off: a wrong code gets the API's message; confirmed with a good one.
  const offBad = wrongCode(key);
  await page.fill('#twofa-manage-code', offBad);
  await page.click('#twofa-disable');
  await answerDialog(page, 'Turn off two-step verification?');
  await expectFieldError(page, '#twofa-manage-code', 'That code is not valid; enter a current code or an unused recovery code.');
  await page.fill('#twofa-manage-code', await app.code());
  await page.click('#twofa-disable');
  await answerDialog(page, 'Turn off two-step verification?');
  await expectText(page, '#twofa-state', /Off/);
  const { me } = await api('me', '{ me { twoFactorEnabled } }', {}, await nodeLogin(origin, email, NEW_PASSWORD));
  if (me.twoFactorEnabled) fail('two-step verification is still on');
  step('turned off: a wrong code refused next to the field, then confirmed with a code; a password login needs no second step');

  // 7. A sign-in older than 15 minutes: the API's "Sign in again", and a link to do it.
  if (ageSessions(database) < 1) fail('no session to age');
  await open(page, origin, '/account/security');
  await page.click('#twofa-start');
  const stale = page.locator('#twofa-body [role="alert"]');
  await expectText(page, '#twofa-body [role="alert"]', /^Sign in again to set up two-factor authentication: this needs a sign-in of at most 15 minutes ago\./);
  const href = await stale.locator('a').getAttribute('href');
  if (href !== '/login?next=%2Faccount%2Fsecurity') fail(`the "Sign in again" link goes to ${href}`);
  await shoot(page, 'security-stale', { phone: false, at: '#twofa-section' });
  await stale.locator('a').click();
  await expectPath(page, '/login');
  step('a stale sign-in: the API\'s "Sign in again to set up two-factor authentication…" with a link to /login?next=/account/security');

  if ((await meWithToken(origin, await nodeLogin(origin, email, NEW_PASSWORD))).id !== userId) fail('the account does not work at the end');
  await sleep(300);
  assertClean(watcher);
  step('PASS: password change and two-step verification from /account/security');
}

run(main, { timeoutMs: 240_000 });
