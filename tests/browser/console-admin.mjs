// /account and /admin in a real browser (Debian's Chromium, playwright-core):
//
//   /account: the welcome note on the first visit (markWelcomeSeen: not on the next);
//   the profile (updateProfile: the API's refusal of a 65-character username next to
//   the field, then first name and username saved, the greeting follows); the Admin
//   link only for an ADMIN. /admin: a USER gets the refusal (and the API refuses them
//   too); an ADMIN (made with `latchkey user set-role EMAIL ADMIN`, run with the test
//   server's settings) pages through the users, searches by email, changes a role
//   (setUserRole), deactivates a user (confirmed: setUserActive) who is then signed out
//   (their token refused, their browser back at /login) and activates them again; the
//   audit log by event type, by user ("Events" of a row) and "Load more" to the end.
//
// Screenshots in docs/console/: account, account-profile, admin-refused, admin-users,
// admin-deactivated, admin-audit (and -phone.png of each).
//
//   cargo build --locked && npm ci --prefix tests/browser && node tests/browser/console-admin.mjs
import { fail, launchBrowser, makeGql, nodeSender, run, signupVerifyLogin, sleep, startServer, step, uniqueEmail } from './lib.mjs';
import { DESKTOP, PASSWORD, assertClean, expectFieldError, expectPath, expectText, watch } from './pages-lib.mjs';
import { CONSOLE_ENV, answerDialog, bearer, cli, errorOf, meWithToken, nodeLogin, open, post, shoot, signIn, texts } from './console-lib.mjs';

const ME = '{ me { id role firstName username hasSeenWelcome isActive } }';
const row = (id) => `#users tr[data-user-id="${id}"]`;

async function newBrowserPage(browser, origin, watchers) {
  const context = await browser.newContext({ viewport: DESKTOP });
  const page = await context.newPage();
  watchers.push(await watch(page, origin));
  return page;
}

async function main() {
  const server = await startServer({ tmpPrefix: 'latchkey-console-admin-', env: { ...CONSOLE_ENV, LATCHKEY_RATE_LIMIT__SIGNUP_PER_HOUR: '0' } });
  const { origin, outbox } = server;
  const api = makeGql(nodeSender(origin));
  const admin = await signupVerifyLogin(api, outbox, { prefix: 'admin' });
  const bob = await signupVerifyLogin(api, outbox, { prefix: 'bob' });
  cli(server, ['user', 'set-role', admin.email, 'ADMIN']);
  const browser = await launchBrowser();
  const watchers = [];
  const page = await newBrowserPage(browser, origin, watchers);

  // 1. /account, the first visit: the welcome note, told to the API once.
  await signIn(page, origin, admin.email, admin.password, '/account');
  await expectText(page, '#welcome-heading', 'Welcome to latchkey');
  await expectText(page, '#account-email', admin.email);
  await expectText(page, '#account-role', 'Administrator');
  if (!(await page.isVisible('#console-nav a[href="/admin"]')) || !(await page.isVisible('#shortcut-admin'))) fail('an ADMIN sees no link to /admin');
  for (let i = 0; !(await api('me', ME, {}, admin.accessToken)).me.hasSeenWelcome; i++) {
    if (i === 50) fail('markWelcomeSeen was not called on the first visit');
    await sleep(100);
  }
  await shoot(page, 'account');
  await page.click('#welcome-dismiss');
  if (await page.isVisible('#welcome')) fail('"Got it" did not close the welcome note');
  await open(page, origin, '/account');
  if (await page.isVisible('#welcome')) fail('the welcome note shows again on the next visit');
  step('/account: the welcome note on the first visit (hasSeenWelcome is now true), not on the next; the Admin link for an ADMIN');

  // 2. The profile: the API's refusal next to its field, then saved.
  const long = 'u'.repeat(65);
  const refusal = await errorOf(origin, 'updateProfile (65)', 'mutation ($u: String) { updateProfile(username: $u) { id } }', { u: long }, bearer(admin.accessToken));
  await page.$eval('#profile-username', (input) => input.removeAttribute('maxlength')); // as a client that does not check
  await page.fill('#profile-username', long);
  await page.click('#profile-save');
  await expectFieldError(page, '#profile-username', refusal);
  await page.fill('#profile-first-name', 'Ada');
  await page.fill('#profile-username', 'ada');
  await page.click('#profile-save');
  await expectText(page, '#profile-saved', 'Your profile was saved.');
  await expectText(page, '#greeting', 'Hello, Ada');
  const saved = (await api('me', ME, {}, admin.accessToken)).me;
  if (saved.firstName !== 'Ada' || saved.username !== 'ada') fail(`updateProfile stored ${JSON.stringify(saved)}`);
  await shoot(page, 'account-profile', { at: '#profile-heading' });
  step(`profile: "${refusal}" next to the username; then first name and username saved, "Hello, Ada"`);

  // 3. A USER: no Admin link, and /admin refuses (so does the API).
  const bobPage = await newBrowserPage(browser, origin, watchers);
  await signIn(bobPage, origin, bob.email, bob.password, '/account');
  if (await bobPage.isVisible('#console-nav a[href="/admin"]')) fail('a USER sees a link to /admin');
  await open(bobPage, origin, '/admin');
  await expectText(bobPage, '#refused-heading', 'Administrators only');
  await expectText(bobPage, '#refused-message', `This page is for administrators, and ${bob.email} has the role USER. Ask an administrator of this server if you need access.`);
  if (await bobPage.isVisible('#admin-page')) fail('a USER sees the admin page');
  const apiRefusal = await errorOf(origin, 'users (USER)', '{ users { total } }', {}, bearer(bob.accessToken));
  await shoot(bobPage, 'admin-refused');
  step(`a USER on /admin: "Administrators only"; the API refuses them as well ("${apiRefusal}")`);

  // 4. Users, a page at a time; a search by email.
  for (let i = 0; i < 25; i++) {
    const body = await post(origin, 'mutation ($e: String!, $p: String!) { signup(email: $e, password: $p) { tenantId } }', { e: uniqueEmail(`crowd${i}`), p: PASSWORD });
    if (!body.data) fail(`signup ${i}: ${JSON.stringify(body.errors)}`);
  }
  const { users: everyone } = await api('users', '{ users(limit: 1) { total } }', {}, admin.accessToken);
  await open(page, origin, '/admin');
  await expectText(page, '#users-count', `${everyone.total} users`);
  await expectText(page, '#users-range', `1–20 of ${everyone.total}`);
  await page.click('#users-next');
  await expectText(page, '#users-range', `21–${everyone.total} of ${everyone.total}`);
  const secondPage = await page.$$eval('#users tr', (rows) => rows.map((r) => r.dataset.email));
  if (!secondPage.includes(admin.email)) fail('the oldest user (the admin) is not on the last page');
  step(`users: ${everyone.total} in pages of 20`);
  await page.fill('#users-query', 'BOB-');
  await page.click('#users-search-submit');
  await expectText(page, '#users-count', `1 user matching “BOB-”`);
  if ((await texts(page, '#users tr .email')).join() !== bob.email) fail('the search did not find only bob');
  await shoot(page, 'admin-users');
  step('search "BOB-" (any case): bob only');

  // 5. A role change, then deactivation: bob is signed out everywhere.
  await page.selectOption(`${row(bob.userId)} select`, 'DEVELOPER');
  await page.click(`${row(bob.userId)} [data-action="set-role"]`);
  await expectText(page, '#console-status', `${bob.email} is now developer.`);
  if ((await api('me (bob)', ME, {}, bob.accessToken)).me.role !== 'DEVELOPER') fail('setUserRole did not make bob a DEVELOPER');
  step('role: bob is now DEVELOPER (setUserRole; bob\'s me says so)');
  await page.click(`${row(bob.userId)} [data-action="deactivate"]`);
  await answerDialog(page, `Deactivate ${bob.email}?`);
  await expectText(page, `${row(bob.userId)} td[data-label="Status"]`, /Deactivated/);
  const refused = await meWithToken(origin, bob.accessToken);
  if (refused.code !== 'UNAUTHENTICATED') fail(`bob's token after deactivation answered ${JSON.stringify(refused)}`);
  await bobPage.goto(`${origin}/account`);
  await expectPath(bobPage, '/login');
  const loginRefused = await errorOf(origin, 'login (deactivated)', 'mutation ($e: String!, $p: String!) { login(email: $e, password: $p) { __typename } }', { e: bob.email, p: bob.password });
  await shoot(page, 'admin-deactivated', { at: '#users-heading' });
  step(`deactivated (confirmed): bob's token refused (${refused.message}), his browser is back at /login, a login answers "${loginRefused}"`);
  await page.click(`${row(bob.userId)} [data-action="activate"]`);
  await expectText(page, `${row(bob.userId)} td[data-label="Status"]`, /Active/);
  await meWithToken(origin, await nodeLogin(origin, bob.email, bob.password)).then((m) => m.id === bob.userId || fail(`bob cannot sign in again: ${JSON.stringify(m)}`));
  step('activated again: bob signs in');

  // 6. The audit log: by type, by user, and "Load more" to the end.
  await page.selectOption('#audit-type', 'role_changed');
  await page.click('#audit-apply');
  await expectText(page, '#audit-summary', 'Events of type role_changed, newest first.');
  const types = await page.$$eval('#audit tr', (rows) => rows.map((r) => r.dataset.type));
  if (types.length < 2 || types.some((t) => t !== 'role_changed')) fail(`the role_changed filter shows ${types.join(', ')}`);
  await page.click(`${row(bob.userId)} [data-action="audit"]`);
  await expectText(page, '#audit-summary', `Events of user ${bob.userId}, newest first.`);
  const users = await texts(page, '#audit td[data-label="User"]');
  const bobTypes = await page.$$eval('#audit tr', (rows) => rows.map((r) => r.dataset.type));
  if (!users.length || users.some((u) => u !== bob.userId)) fail(`bob's events include other users: ${[...new Set(users)].join(', ')}`);
  for (const t of ['signup', 'role_changed', 'user_deactivated', 'user_activated']) if (!bobTypes.includes(t)) fail(`bob's events lack ${t}: ${bobTypes.join(', ')}`);
  if (!(await page.evaluate(() => document.activeElement?.id === 'audit-heading'))) fail('"Events" did not move the focus to the audit log');
  step(`audit log: ${types.length} role_changed events; bob's ${bobTypes.length} events (signup … user_activated), his only`);
  await page.click('#audit-clear');
  await expectText(page, '#audit-summary', 'Events, newest first.');
  let total = 0;
  for (let after = null; ; ) {
    const { auditLog } = await api('auditLog', 'query ($a: String) { auditLog(after: $a, limit: 100) { nextCursor items { id } } }', { a: after }, admin.accessToken);
    total += auditLog.items.length;
    if (!auditLog.nextCursor) break;
    after = auditLog.nextCursor;
  }
  let clicks = 0;
  while (await page.isVisible('#audit-more')) {
    const n = await page.locator('#audit tr').count();
    await page.click('#audit-more');
    await page.waitForFunction((k) => document.querySelectorAll('#audit tr').length > k, n);
    clicks++;
  }
  const ids = await page.$$eval('#audit tr', (rows) => rows.map((r) => r.dataset.eventId));
  if (new Set(ids).size !== ids.length || ids.length !== total) fail(`the audit log shows ${ids.length} events (${new Set(ids).size} distinct); auditLog has ${total}`);
  await page.selectOption('#audit-type', 'user_deactivated');
  await page.click('#audit-apply');
  await expectText(page, '#audit-summary', 'Events of type user_deactivated, newest first.');
  if ((await texts(page, '#audit td[data-label="Event"] .event-name')).join() !== 'Account deactivated') fail('the user_deactivated filter does not show bob\'s one event');
  await shoot(page, 'admin-audit', { at: '#audit-heading' });
  step(`audit log, no filter: ${total} events in ${clicks + 1} pages of 20 ("Load more"), each once`);

  await sleep(300);
  for (const w of watchers) assertClean(w);
  step('PASS: /account (welcome, profile) and /admin (users, roles, activation, audit log)');
}

run(main, { timeoutMs: 240_000 });
