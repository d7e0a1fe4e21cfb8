// /account/security in a real browser (Debian's Chromium, playwright-core, a CDP virtual
// authenticator): passkeys, sessions and the recent security activity.
//
//   add a passkey from the page (generatePasskeyRegistrationChallenge ->
//   navigator.credentials.create with parseCreationOptionsFromJSON -> registerPasskey):
//   listed with "Last used: Never" and whether it is backed up; sign in with it on
//   /login, then "Last used" has a date; rename it (the API's refusal of an empty name
//   is not reached: the page asks first; a name of 65 characters gets the API's message);
//   delete it (confirmed). Sessions: a session made from node is listed next to this
//   one ("This device"); signing it out (confirmed) makes its token refused; "Sign out
//   everywhere else" ends two more and this browser stays signed in. Activity: the
//   user's events, ten at a time, "Load more" until the API's nextCursor runs out, each
//   event once, the same as myActivity answers.
//
// Screenshots in docs/console/: security-passkeys, security-passkey-rename,
// security-sessions, security-activity (and -phone.png of each).
//
//   cargo build --locked && npm ci --prefix tests/browser && node tests/browser/console-devices.mjs
import { addVirtualAuthenticator, fail, launchBrowser, makeGql, nodeSender, run, signupVerifyLogin, sleep, startServer, step } from './lib.mjs';
import { DESKTOP, assertClean, expectFieldError, expectPath, expectText, watch } from './pages-lib.mjs';
import { CONSOLE_ENV, answerDialog, bearer, errorOf, meWithToken, nodeLogin, open, shoot, signIn, signOut, texts } from './console-lib.mjs';

const passkey = (id) => `[data-passkey-id="${id}"]`;
const session = (id) => `[data-session-id="${id}"]`;

async function main() {
  const server = await startServer({ tmpPrefix: 'latchkey-console-devices-', env: CONSOLE_ENV });
  const { origin, outbox } = server;
  const api = makeGql(nodeSender(origin));
  const { email, password, accessToken } = await signupVerifyLogin(api, outbox, { prefix: 'devices' });

  const browser = await launchBrowser();
  const context = await browser.newContext({ viewport: DESKTOP });
  const page = await context.newPage();
  const watcher = await watch(page, origin);
  const { cdp, authenticatorId } = await addVirtualAuthenticator(page);
  // /login starts a passkey autofill request on load, which the virtual authenticator
  // would answer at once: presence stays off except when a step wants a passkey.
  const presence = (enabled) => cdp.send('WebAuthn.setAutomaticPresenceSimulation', { authenticatorId, enabled });
  await presence(false);
  await signIn(page, origin, email, password, '/account/security');
  await page.waitForSelector('#passkeys-none');

  // 1. Add a passkey from the page.
  await page.fill('#passkey-name', 'Test laptop');
  await presence(true);
  await page.click('#passkey-add');
  await page.waitForSelector('#passkeys li');
  await presence(false);
  const { userPasskeys: [pk] } = await api('userPasskeys', '{ userPasskeys { id deviceName backedUp lastUsedAt } }', {}, accessToken);
  if (pk?.deviceName !== 'Test laptop') fail(`userPasskeys answered ${JSON.stringify(pk)}`);
  await expectText(page, `${passkey(pk.id)} h3`, 'Test laptop');
  await expectText(page, `${passkey(pk.id)} [data-fact="last-used"] dd`, 'Never');
  await expectText(page, `${passkey(pk.id)} [data-fact="backed-up"] dd`, pk.backedUp ? /^Yes/ : /^No/);
  if (!(await page.evaluate((id) => document.activeElement?.closest(`[data-passkey-id="${id}"]`) !== null, pk.id))) fail('the focus is not on the new passkey');
  if (!(await page.isHidden('#passkeys-none'))) fail('"No passkeys yet." still shows');
  step(`passkey "Test laptop" added from the page (backed up: ${pk.backedUp}); listed, last used never`);

  // 2. Sign in with it; "Last used" then has a date.
  await signOut(page);
  await sleep(500);
  await presence(true);
  // The page's autofill request (conditional mediation) may take the passkey first.
  await page.click('#passkey-button', { timeout: 3_000 }).catch(() => {});
  await expectPath(page, '/account');
  await presence(false);
  await open(page, origin, '/account/security');
  await page.waitForSelector(`${passkey(pk.id)} [data-fact="last-used"] time`);
  step('signed in with the passkey on /login; the security page shows when it was last used');
  await shoot(page, 'security-passkeys', { at: '#passkeys-section' });

  // 3. Rename: the API's refusal next to the field, then a good name.
  const tooLong = 'x'.repeat(65);
  const refusal = await errorOf(origin, 'renamePasskey (65 chars)', 'mutation ($id: ID!, $n: String!) { renamePasskey(id: $id, device_name: $n) { id } }', { id: pk.id, n: tooLong }, bearer(accessToken));
  await page.click(`${passkey(pk.id)} [data-action="rename"]`);
  await page.$eval(`#rename-${pk.id}`, (input) => input.removeAttribute('maxlength')); // as a client that does not check
  await page.fill(`#rename-${pk.id}`, tooLong);
  await page.click(`${passkey(pk.id)} .rename-form button[type="submit"]`);
  await expectFieldError(page, `#rename-${pk.id}`, refusal);
  await shoot(page, 'security-passkey-rename', { at: '#passkeys-section' });
  await page.fill(`#rename-${pk.id}`, 'Work laptop');
  await page.keyboard.press('Enter');
  await expectText(page, `${passkey(pk.id)} h3`, 'Work laptop');
  const renamed = await api('userPasskeys', '{ userPasskeys { deviceName } }', {}, accessToken);
  if (renamed.userPasskeys[0].deviceName !== 'Work laptop') fail(`renamed: ${JSON.stringify(renamed)}`);
  step(`rename: "${refusal}" for 65 characters; then "Work laptop"`);

  // 4. Delete (confirmed).
  await page.click(`${passkey(pk.id)} [data-action="delete"]`);
  await answerDialog(page, 'Delete the passkey “Work laptop”?');
  await page.waitForSelector(passkey(pk.id), { state: 'detached' });
  const left = await api('userPasskeys', '{ userPasskeys { id } }', {}, accessToken);
  if (left.userPasskeys.length) fail(`a passkey is left: ${JSON.stringify(left)}`);
  await page.waitForSelector('#passkeys-none', { state: 'visible' });
  step('delete (confirmed): gone from the page and from userPasskeys');

  // 5. Sessions: another one, from node, signed out from here.
  const other = await nodeLogin(origin, email, password);
  await open(page, origin, '/account/security');
  await page.waitForSelector('#sessions li');
  const sessions = await page.$$eval('#sessions li', (lis) => lis.map((li) => ({ id: li.dataset.sessionId, current: li.dataset.current === 'true', name: li.querySelector('h3').textContent, badge: li.querySelector('.item-head .badge')?.textContent || '' })));
  const mine = sessions.filter((s) => s.current);
  if (mine.length !== 1 || mine[0].badge !== 'This device' || !/Chrome/.test(mine[0].name)) fail(`this device: ${JSON.stringify(sessions)}`);
  if (await page.isVisible(`${session(mine[0].id)} [data-action="revoke"]`)) fail('this device has a "Sign out" button of its own in the list');
  const { sessions: fromApi } = await api('sessions', '{ sessions { id current userAgent } }', {}, other);
  const otherId = fromApi.find((s) => s.current).id;
  if (!sessions.some((s) => s.id === otherId && s.name === 'node')) fail(`the node session ${otherId} is not listed: ${JSON.stringify(sessions)}`);
  await shoot(page, 'security-sessions', { at: '#sessions-section' });
  await page.click(`${session(otherId)} [data-action="revoke"]`);
  await answerDialog(page, 'Sign out node?');
  await page.waitForSelector(session(otherId), { state: 'detached' });
  const refused = await meWithToken(origin, other);
  if (refused.code !== 'UNAUTHENTICATED') fail(`the signed-out session's token answered ${JSON.stringify(refused)}`);
  step(`sessions: this device marked; the node session signed out from the page, its token refused (${refused.message})`);

  // 6. "Sign out everywhere else".
  const more = [await nodeLogin(origin, email, password), await nodeLogin(origin, email, password)];
  await open(page, origin, '/account/security');
  await page.waitForSelector('#sessions li[data-current="false"]');
  await page.click('#sessions-revoke-others');
  await answerDialog(page, 'Sign out everywhere else?');
  await page.waitForFunction(() => [...document.querySelectorAll('#sessions li')].every((li) => li.dataset.current === 'true'));
  for (const t of [...more, accessToken]) {
    if ((await meWithToken(origin, t)).code !== 'UNAUTHENTICATED') fail('a session survived "Sign out everywhere else"');
  }
  if (!(await page.isDisabled('#sessions-revoke-others'))) fail('"Sign out everywhere else" is still enabled with no other session');
  await open(page, origin, '/account/security');
  await expectText(page, '#sessions-count', '1 session, newest first.');
  step('"Sign out everywhere else": every other token refused; this browser is still signed in');

  // 7. Activity, ten at a time.
  const token = await nodeLogin(origin, email, password);
  const all = [];
  for (let after = null; ; ) {
    const { myActivity } = await api('myActivity', 'query ($a: String) { myActivity(after: $a, limit: 100) { nextCursor items { id type } } }', { a: after }, token);
    all.push(...myActivity.items);
    if (!myActivity.nextCursor) break;
    after = myActivity.nextCursor;
  }
  await open(page, origin, '/account/security');
  await page.waitForSelector('#activity li');
  let shown = await page.$$eval('#activity li', (lis) => lis.map((li) => li.dataset.eventId));
  // The page loaded before the last sign-in from node was counted, or after: either way
  // it starts with the newest ten.
  if (shown.length !== 10) fail(`the activity starts with ${shown.length} events, not 10`);
  await shoot(page, 'security-activity', { at: '#activity-section' });
  let clicks = 0;
  while (await page.isVisible('#activity-more')) {
    const before = shown.length;
    await page.click('#activity-more');
    await page.waitForFunction((n) => document.querySelectorAll('#activity li').length > n, before);
    shown = await page.$$eval('#activity li', (lis) => lis.map((li) => li.dataset.eventId));
    if (!(await page.evaluate(() => document.activeElement?.matches('#activity li')))) fail('the focus is not on the first new event after "Load more"');
    clicks++;
  }
  if (new Set(shown).size !== shown.length) fail('an event shows twice');
  const expected = all.map((e) => e.id);
  const missing = expected.filter((id) => !shown.includes(id));
  if (missing.length) fail(`events ${missing.join(', ')} of myActivity are not shown (shown ${shown.length}, API ${expected.length})`);
  const labels = await texts(page, '#activity .event-name');
  for (const l of ['Signed in', 'Passkey added', 'Passkey deleted', 'Session signed out', 'Account created', 'Email confirmed']) {
    if (!labels.includes(l)) fail(`the activity lacks "${l}": ${[...new Set(labels)].join(', ')}`);
  }
  step(`activity: ${shown.length} events in ${clicks + 1} pages of 10 ("Load more" until the end), each once, as myActivity lists them`);

  await sleep(300);
  assertClean(watcher);
  step('PASS: passkeys, sessions and security activity on /account/security');
}

run(main, { timeoutMs: 240_000 });
