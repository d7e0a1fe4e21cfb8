// The server's own pages, password accounts, in a real browser (Debian's Chromium,
// playwright-core): every page served with its CSP and no inline code; /account sends a
// signed-out browser to /login?next=/account; sign up on /signup (the API's refusals
// next to their field: weak password, disposable domain, address taken); the
// verification link from the outbox ("Confirming..." then done; used again: says so);
// a new verification link from the page; sign out; a wrong password; sign in with the
// keyboard; forgot / reset through the emailed link (a weak password refused, a used and
// an expired link say so and offer a new one; a reset signs the other browser out); the
// same answer for an unknown address; the <noscript> message without JavaScript.
//
// Screenshots in docs/pages/ (1280x800, the key ones also -phone.png at 390x844).
//
//   cargo build --locked && npm ci --prefix tests/browser && node tests/browser/pages-password.mjs
import { execFileSync } from 'node:child_process';
import { launchBrowser, fail, run, sleep, startServer, step, uniqueEmail } from './lib.mjs';
import {
  DESKTOP,
  PAGES_ENV,
  PASSWORD,
  apiError,
  assertClean,
  assertNoTokensInStorage,
  checkPagesServed,
  cookiesByName,
  expectFieldError,
  expectPath,
  expectText,
  mailCount,
  mailedToken,
  shoot,
  watch,
} from './pages-lib.mjs';

const NEW_PASSWORD = 'staple-Orbit-lantern-42';
const SIGNUP = 'mutation ($e: String!, $p: String!) { signup(email: $e, password: $p) { tenantId } }';

// Makes the reset link of `token` expired, in the server's SQLite file (one_time_tokens).
function expireToken(database, token) {
  const script = [
    'import hashlib, sqlite3, sys, time',
    'db = sqlite3.connect(sys.argv[1])',
    'h = hashlib.sha256(sys.argv[2].encode()).hexdigest()',
    'n = db.execute("UPDATE one_time_tokens SET expires_at = ? WHERE token_hash = ?", (int(time.time()) - 60, h)).rowcount',
    'db.commit()',
    'print(n)',
  ].join('\n');
  const n = execFileSync('python3', ['-c', script, database, token], { encoding: 'utf8' }).trim();
  if (n !== '1') fail(`expiring the reset token changed ${n} rows, not 1`);
}

// Whether `email`'s account is marked verified, read from the server's SQLite file.
function emailVerified(database, email) {
  const script = [
    'import sqlite3, sys',
    'db = sqlite3.connect(sys.argv[1])',
    'row = db.execute("SELECT email_verified FROM users WHERE email = ?", (sys.argv[2],)).fetchone()',
    'print(row[0] if row else "none")',
  ].join('\n');
  const v = execFileSync('python3', ['-c', script, database, email], { encoding: 'utf8' }).trim();
  if (v === 'none') fail(`no account for ${email} in ${database}`);
  return v === '1';
}

async function newPage(browser, origin, watchers, options = {}) {
  const context = await browser.newContext({ viewport: DESKTOP, ...options });
  const page = await context.newPage();
  if (options.javaScriptEnabled !== false) watchers.push(await watch(page, origin));
  return { context, page };
}

async function signIn(page, origin, email, password) {
  await page.goto(`${origin}/login?next=%2Faccount`);
  await page.fill('#email', email);
  await page.fill('#password', password);
  await page.click('#login-submit');
  await expectPath(page, '/account');
  await expectText(page, '#account-email', email);
}

async function main() {
  const { origin, outbox, database } = await startServer({ tmpPrefix: 'latchkey-pages-password-', env: PAGES_ENV });
  await checkPagesServed(origin);
  const browser = await launchBrowser();
  const watchers = [];
  const seen = new Set();
  const { context, page } = await newPage(browser, origin, watchers);

  // 1. Signed out, /account sends the browser to sign in, and back afterwards.
  await page.goto(`${origin}/account`);
  await expectPath(page, /^\/login\?next=%2Faccount$/);
  await expectText(page, 'main h1:visible', 'Sign in');
  const autocomplete = await page.getAttribute('#email', 'autocomplete');
  if (autocomplete !== 'username webauthn') fail(`the email field's autocomplete is ${JSON.stringify(autocomplete)}`);
  if (!(await page.isVisible('#passkey-button'))) fail('no "Sign in with a passkey" button');
  if (await page.isVisible('#providers')) fail('provider buttons shown, but no provider is configured');
  step('signed out: /account -> /login?next=%2Faccount (email field offers passkeys, no provider buttons)');
  await shoot(page, 'login', { phone: true });

  // 2. Sign up: the API's refusals next to the field, verbatim.
  const email = uniqueEmail('pages');
  await page.click('#signup-link');
  await expectPath(page, '/signup');
  await expectText(page, 'main h1:visible', 'Create an account');
  await shoot(page, 'signup', { phone: true });
  const weak = await apiError(origin, 'signup with a weak password', SIGNUP, { e: email, p: 'password' });
  await page.fill('#email', email);
  await page.fill('#password', 'password');
  await page.click('#signup-submit');
  await expectFieldError(page, '#password', weak);
  step(`weak password: "${weak}" next to the password field, focused`);
  await shoot(page, 'signup-error', { phone: true });
  const disposable = await apiError(origin, 'signup with a disposable address', SIGNUP, { e: 'someone@mailinator.com', p: PASSWORD });
  await page.fill('#email', 'someone@mailinator.com');
  await page.fill('#password', PASSWORD);
  await page.click('#signup-submit');
  await expectFieldError(page, '#email', disposable);
  step(`disposable domain: "${disposable}" next to the email field`);

  await page.fill('#email', email);
  await page.fill('#password', PASSWORD);
  await page.fill('#first-name', 'Ada');
  await page.click('#signup-submit');
  await expectText(page, '#signup-done h1', 'Check your email');
  await expectText(page, '#done-email', email);
  step(`signed up ${email}: "Check your email"`);
  await shoot(page, 'signup-done', { phone: true });
  const cookies = await cookiesByName(context, origin);
  const rc = cookies.lk_refresh;
  if (!rc) fail(`no lk_refresh cookie after signup (cookies: ${Object.keys(cookies).join(', ')})`);
  if (!rc.httpOnly || rc.sameSite !== 'Strict' || rc.path !== '/session') {
    fail(`lk_refresh is not HttpOnly, SameSite=Strict, Path=/session: ${JSON.stringify(rc)}`);
  }
  await assertNoTokensInStorage(page);
  if ((await page.evaluate(() => document.cookie)).includes(rc.value)) fail('the refresh token is readable by the page');
  await page.click('#continue-link');
  await expectPath(page, '/account');
  await expectText(page, '#account-email', email);
  await expectText(page, '#greeting', 'Hello, Ada');
  await expectText(page, '#account-verified', 'Email not confirmed');
  step('the account page: the email, not confirmed yet');

  // 3. The verification link: "Confirming..." first, then done.
  const verifyToken = await mailedToken(outbox, email, 'verify-email', seen);
  await page.route(`${origin}/graphql`, async (route) => {
    await sleep(600);
    return route.fallback();
  });
  await page.goto(`${origin}/verify-email?token=${verifyToken}`);
  // Opening the link confirms nothing (a mail scanner would): the person presses the button.
  await expectText(page, '#verify-ask h1', 'Confirm your email address');
  await sleep(300);
  if (emailVerified(database, email)) fail('opening the verification link alone confirmed the email');
  await page.click('#confirm');
  await expectText(page, '#verify-checking [role="status"]', 'Confirming…');
  await page.unroute(`${origin}/graphql`);
  await expectText(page, '#verify-done h1', 'Your email is confirmed');
  await expectText(page, '#done-next', 'Continue to your account');
  step('the verification link: "Confirming…", then "Your email is confirmed"');
  await shoot(page, 'verify-email', { phone: true });
  await page.click('#done-next');
  await expectPath(page, '/account');
  await expectText(page, '#account-verified', 'Email confirmed');
  if (await page.isVisible('#resend')) fail('a new confirmation link is offered for a confirmed address');
  await shoot(page, 'account', { phone: true });
  await page.goto(`${origin}/`);
  await expectPath(page, '/account');
  // Let the page's own refresh finish before leaving it: a navigation that cancels a
  // refresh in flight loses the rotated cookie (the server's reuse grace is to come).
  await page.waitForLoadState('networkidle');
  step('/ with a session goes to /account');

  // 4. The same link again: the API's message, and nothing left to do.
  const used = await apiError(origin, 'a used verification link', 'mutation ($t: String!) { confirmEmailVerification(token: $t) }', { t: verifyToken });
  await page.goto(`${origin}/verify-email?token=${verifyToken}`);
  await page.click('#confirm');
  await expectText(page, '#failed-message', used);
  await expectText(page, '#failed-heading', 'Your email is already confirmed');
  await expectText(page, '#failed-next', /is confirmed, so there is nothing left to do/);
  step(`the used verification link: "${used}" (the address is already confirmed)`);
  await shoot(page, 'verify-email-used');

  // 5. The address is taken (another browser, signed out).
  const other = await newPage(browser, origin, watchers);
  const taken = await apiError(origin, 'signup with a taken address', SIGNUP, { e: email, p: PASSWORD });
  await other.page.goto(`${origin}/signup`);
  await other.page.fill('#email', email);
  await other.page.fill('#password', PASSWORD);
  await other.page.click('#signup-submit');
  await expectFieldError(other.page, '#email', taken);
  step(`address taken: "${taken}" next to the email field`);

  // 6. A new verification link, from the page (an unconfirmed account, a bad link).
  const email2 = uniqueEmail('pages-resend');
  await other.page.fill('#email', email2);
  await other.page.fill('#password', PASSWORD);
  await other.page.click('#signup-submit');
  await expectText(other.page, '#signup-done h1', 'Check your email');
  await mailedToken(outbox, email2, 'verify-email', seen);
  await other.page.goto(`${origin}/verify-email?token=not-a-real-token`);
  await other.page.click('#confirm');
  await expectText(other.page, '#failed-message', used);
  await other.page.click('#resend');
  await expectText(other.page, '#resent', `We sent a new link to ${email2}. It works for 24 hours.`);
  await mailedToken(outbox, email2, 'verify-email', seen);
  if (mailCount(outbox, email2, 'verify-email') !== 2) fail('the new verification link was not mailed');
  step('a bad link for a signed-in, unconfirmed account: "Send a new link" mails one');
  await shoot(other.page, 'verify-email-resend');

  // 7. Sign out.
  await page.goto(`${origin}/account`);
  await page.click('#sign-out');
  await expectPath(page, '/login');
  const after = await cookiesByName(context, origin);
  if (after.lk_refresh || after.lk_signed_in) fail(`cookies left after signing out: ${Object.keys(after).join(', ')}`);
  await page.goto(`${origin}/`);
  await expectPath(page, '/login');
  await page.goto(`${origin}/account`);
  await expectPath(page, /^\/login\?next=%2Faccount$/);
  step('signed out: cookies cleared, / and /account go to /login');

  // 8. A wrong password, then the right one, with the keyboard only.
  const wrong = await apiError(origin, 'login with a wrong password', 'mutation ($e: String!, $p: String!) { login(email: $e, password: $p) { __typename } }', {
    e: email,
    p: 'wrong-Password-1234',
  });
  await page.focus('#email');
  await page.keyboard.type(email);
  await page.keyboard.press('Tab');
  if (!(await page.evaluate(() => document.activeElement?.id === 'password'))) fail('Tab from the email field does not reach the password field');
  await page.keyboard.type('wrong-Password-1234');
  await page.keyboard.press('Enter');
  await expectFieldError(page, '#password', wrong);
  step(`wrong password: "${wrong}" next to the password field, focused`);
  await shoot(page, 'login-error', { phone: true });
  await page.keyboard.press('ControlOrMeta+A');
  await page.keyboard.type(PASSWORD);
  await page.keyboard.press('Enter');
  await expectPath(page, '/account');
  await expectText(page, '#account-email', email);
  step('signed in with the keyboard: back on /account (the ?next= path)');

  // 9. Forgot / reset, in a third browser.
  const third = await newPage(browser, origin, watchers);
  const p3 = third.page;
  await p3.goto(`${origin}/login`);
  await p3.click('#forgot-link');
  await expectPath(p3, '/forgot-password');
  await shoot(p3, 'forgot-password', { phone: true });
  await p3.fill('#email', email);
  await p3.click('#forgot-submit');
  await expectText(p3, '#forgot-sent h1', 'Check your email');
  await expectText(p3, '#sent-text', new RegExp(`^If an account exists for ${email.replace(/[.+]/g, '\\$&')}, we sent it a link`));
  await shoot(p3, 'forgot-password-sent', { phone: true });
  const resetToken = await mailedToken(outbox, email, 'reset-password', seen);
  await p3.goto(`${origin}/reset-password?token=${resetToken}`);
  await expectText(p3, '#reset-panel h1', 'Choose a new password');
  await shoot(p3, 'reset-password', { phone: true });
  const weakReset = await apiError(origin, 'a weak new password', 'mutation ($t: String!, $p: String!) { confirmPasswordReset(token: $t, newPassword: $p) }', {
    t: resetToken,
    p: 'password',
  });
  await p3.fill('#password', 'password');
  await p3.click('#reset-submit');
  await expectFieldError(p3, '#password', weakReset);
  await p3.fill('#password', NEW_PASSWORD);
  await p3.click('#reset-submit');
  await expectText(p3, '#reset-done h1', 'Your password is changed');
  await shoot(p3, 'reset-password-done', { phone: true });
  step('reset through the emailed link (a weak password refused first)');
  await p3.click('#sign-in-link');
  await expectPath(p3, '/login');
  await signIn(p3, origin, email, NEW_PASSWORD);
  step('signed in with the new password');
  await page.goto(`${origin}/account`);
  await expectPath(page, /^\/login\?next=%2Faccount$/);
  step('the reset signed the first browser out');

  // 10. The used link, then an expired one: each says so and offers a new link.
  await p3.goto(`${origin}/reset-password?token=${resetToken}`);
  await expectText(p3, '#reset-invalid h1', 'This link cannot be used');
  await shoot(p3, 'reset-password-invalid', { phone: true });
  await p3.goto(`${origin}/forgot-password`);
  await p3.fill('#email', email);
  await p3.click('#forgot-submit');
  await expectText(p3, '#forgot-sent h1', 'Check your email');
  const expiring = await mailedToken(outbox, email, 'reset-password', seen);
  expireToken(database, expiring);
  await p3.goto(`${origin}/reset-password?token=${expiring}`);
  await expectText(p3, '#reset-invalid h1', 'This link cannot be used');
  await expectText(p3, '#invalid-message', /invalid, expired or already used/);
  await p3.click('#request-new');
  await expectPath(p3, '/forgot-password');
  step('a used and an expired reset link: "This link cannot be used", "Request a new link" -> /forgot-password');

  // 11. An unknown address gets the same answer, and no email.
  const nobody = uniqueEmail('nobody');
  await p3.fill('#email', nobody);
  await p3.click('#forgot-submit');
  await expectText(p3, '#sent-text', new RegExp(`^If an account exists for ${nobody.replace(/[.+]/g, '\\$&')}, we sent it a link`));
  await sleep(1_000);
  if (mailCount(outbox, nobody, 'reset-password')) fail('a reset link was mailed to an unknown address');
  step('an unknown address: the same answer, nothing mailed');

  // 12. Without JavaScript: the <noscript> message, no form.
  const nojs = await newPage(browser, origin, watchers, { javaScriptEnabled: false });
  await nojs.page.goto(`${origin}/login`);
  await expectText(nojs.page, 'main .notice-error h1', 'JavaScript is needed');
  if (await nojs.page.isVisible('#login-form')) fail('without JavaScript the login form is shown (it would send the password in the URL)');
  await shoot(nojs.page, 'login-nojs');
  step('without JavaScript: "JavaScript is needed", no form');

  await sleep(300);
  for (const w of watchers) assertClean(w);
  step('PASS: sign-up, email verification, sign-in, sign-out and password reset on the server\'s own pages');
}

run(main, { timeoutMs: 240_000 });
