// /account/keys in a real browser (Debian's Chromium, playwright-core):
//
//   the API's refusal of a bad IP allowlist next to the field; a key created in the page
//   (name, scopes, environment, expiry, IPs) -> its secret shown once in a dialog (copied
//   to the clipboard) -> the secret works with X-API-Key against { me { id } } (from
//   node) -> "Done": the secret is nowhere in the DOM, nor after leaving the page and
//   coming back (history, and a fresh load); by keyboard, Escape closes the box and
//   takes the secret; rotation with a grace period of an hour ->
//   old and new secrets both work; revoke (confirmed; a cancel changes nothing) -> the
//   key is refused; delete -> refused and gone; an action the API refuses (a key deleted
//   behind the page's back) shows the API's message next to that key; 72 keys page by
//   25 (the API gives at most 64 at once).
//
// Screenshots in docs/console/: keys, keys-refusal, keys-secret, keys-rotate,
// keys-revoke-confirm, keys-revoked, keys-paging (and -phone.png of each).
//
//   cargo build --locked && npm ci --prefix tests/browser && node tests/browser/console-keys.mjs
import { fail, launchBrowser, makeGql, nodeSender, run, signupVerifyLogin, sleep, startServer, step } from './lib.mjs';
import { DESKTOP, assertClean, expectFieldError, expectText, watch } from './pages-lib.mjs';
import { CONSOLE_ENV, answerDialog, assertNotInPage, bearer, errorOf, meWithKey, open, shoot, signIn, texts } from './console-lib.mjs';

const CREATE = 'mutation ($i: CreateApiKeyInput!) { createApiKey(input: $i) { secret apiKey { id } } }';
const key = (id) => `[data-key-id="${id}"]`;

/** The secret of the open "new key" dialog, after checking what it says. */
async function readSecretDialog(page, title) {
  await page.waitForSelector('#secret-dialog[open]');
  await expectText(page, '#secret-title', title);
  await expectText(page, '#secret-warning', /you will not see it again/);
  const secret = (await page.textContent('#new-secret')).trim();
  if (!/^lk_(live|test|dev)_[0-9a-f]{64}$/.test(secret)) fail(`the dialog shows ${JSON.stringify(secret)}, not a key`);
  if (!(await page.evaluate(() => document.activeElement?.id === 'secret-copy'))) fail('the focus is not on "Copy" in the new key dialog');
  return secret;
}

async function closeSecretDialog(page, secret) {
  await page.click('#secret-done');
  await page.waitForSelector('#secret-dialog', { state: 'detached' });
  await assertNotInPage(page, secret, 'the secret, after "Done"');
}

async function main() {
  const server = await startServer({ tmpPrefix: 'latchkey-console-keys-', env: CONSOLE_ENV });
  const { origin, outbox } = server;
  const api = makeGql(nodeSender(origin));
  const { email, password, userId, accessToken } = await signupVerifyLogin(api, outbox, { prefix: 'keys' });

  const browser = await launchBrowser();
  const context = await browser.newContext({ viewport: DESKTOP });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin });
  const page = await context.newPage();
  const watcher = await watch(page, origin);

  // 1. Signed in, the keys page lists signup's first key.
  await signIn(page, origin, email, password, '/account/keys');
  await expectText(page, '#keys-count', '1 key');
  await expectText(page, '#keys li h3', 'Default key');
  const current = await page.getAttribute('#console-nav a[aria-current="page"]', 'href');
  if (current !== '/account/keys') fail(`the navigation marks ${current} as the current page`);
  step('/account/keys: signup\'s "Default key" listed; the navigation marks the page');
  await shoot(page, 'keys');

  // 2. The API's refusal, next to its field.
  const badIps = '10.0.0.1, 300.1.1.1';
  const refusal = await errorOf(origin, 'createApiKey (bad IP)', CREATE, { i: { name: 'x', ips: ['10.0.0.1', '300.1.1.1'] } }, bearer(accessToken));
  await page.fill('#key-name', 'bad allowlist');
  await page.fill('#key-ips', badIps);
  await page.click('#create-submit');
  await expectFieldError(page, '#key-ips', refusal);
  step(`a bad IP allowlist: "${refusal}" under the IP field`);
  await shoot(page, 'keys-refusal', { at: '#create-heading' });

  // 3. A key made in the page: its secret once, in a dialog.
  await page.fill('#key-name', 'deploy bot');
  await page.check('#scope-delete');
  await page.selectOption('#key-environment', 'TEST');
  const expiry = new Date(Date.now() + 30 * 86_400_000);
  const ymd = `${expiry.getFullYear()}-${String(expiry.getMonth() + 1).padStart(2, '0')}-${String(expiry.getDate()).padStart(2, '0')}`;
  await page.fill('#key-expires', ymd);
  await page.fill('#key-ips', '127.0.0.1\n::1');
  await page.click('#create-submit');
  const secret = await readSecretDialog(page, 'Your new API key');
  if (!secret.startsWith('lk_test_')) fail(`a TEST key's secret is ${secret.slice(0, 8)}…`);
  await page.click('#secret-copy');
  await expectText(page, '#secret-copy', 'Copied');
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  if (copied !== secret) fail(`the clipboard holds ${JSON.stringify(copied.slice(0, 12))}…, not the secret`);
  await shoot(page, 'keys-secret');
  const used = await meWithKey(origin, secret);
  if (used.id !== userId) fail(`{ me { id } } with the new key answered ${JSON.stringify(used)}`);
  step('created "deploy bot" (READ, DELETE, TEST, 30 days, 127.0.0.1 and ::1): secret copied; X-API-Key -> me is the user');
  await closeSecretDialog(page, secret);
  const [{ id: keyId }] = await page.$$eval('#keys li', (lis) => lis.slice(0, 1).map((li) => ({ id: li.dataset.keyId })));
  const facts = Object.fromEntries(await page.$$eval(`${key(keyId)} [data-fact]`, (els) => els.map((e) => [e.dataset.fact, e.querySelector('dd').textContent.trim()])));
  if (facts.prefix !== `${secret.slice(0, 16)}…`) fail(`the prefix shown is ${facts.prefix}, the secret starts ${secret.slice(0, 16)}`);
  if (facts.scopes !== 'READ, DELETE' || facts.ips !== '127.0.0.1, ::1' || facts.expires === 'Never' || facts['last-used'] !== 'Never') {
    fail(`the new key's facts are ${JSON.stringify(facts)}`);
  }
  if (!(await page.evaluate((id) => document.activeElement?.closest(`[data-key-id="${id}"]`) !== null, keyId))) fail('the focus is not on the new key');
  step(`listed first: prefix ${facts.prefix}, scopes, IPs, expiry; the focus on it; the secret gone from the DOM`);

  // 4. Leaving and coming back: the secret is nowhere.
  await page.click('#console-nav a[href="/account"]');
  await page.waitForURL(`${origin}/account`);
  await page.goBack();
  await page.waitForSelector('#keys li');
  await assertNotInPage(page, secret, 'the secret, back on /account/keys (history)');
  await open(page, origin, '/account/keys');
  await page.waitForSelector(key(keyId));
  await assertNotInPage(page, secret, 'the secret, on /account/keys loaded again');
  step('to /account and back (history), and a fresh load: the secret is not in the page');

  // 4b. The keyboard only: Enter in the name field creates, Escape closes the box, and
  // the secret goes with it.
  await page.focus('#key-name');
  await page.keyboard.type('keyboard key');
  await page.keyboard.press('Enter');
  const typed = await readSecretDialog(page, 'Your new API key');
  await page.keyboard.press('Escape');
  await page.waitForSelector('#secret-dialog', { state: 'detached' });
  await assertNotInPage(page, typed, 'the secret, after Escape');
  await page.waitForFunction(() => document.activeElement?.closest('#keys li:first-child'));
  step('keyboard: Enter creates "keyboard key", Escape closes its box (the secret gone), the focus on the new key');

  // 5. Rotation with a grace period: the old and the new secret both work.
  await page.click(`${key(keyId)} [data-action="rotate"]`);
  await page.selectOption(`#grace-${keyId}`, '3600');
  await shoot(page, 'keys-rotate', { at: key(keyId) });
  await page.click(`${key(keyId)} .rotate-form button[type="submit"]`);
  const rotated = await readSecretDialog(page, 'New secret for “deploy bot”');
  await expectText(page, '#secret-note', /^The old key keeps working until .+\.$/);
  if (rotated === secret) fail('the rotation answered the old secret');
  await closeSecretDialog(page, rotated);
  const [a, b] = [await meWithKey(origin, secret), await meWithKey(origin, rotated)];
  if (a.id !== userId || b.id !== userId) fail(`in the grace period: old ${JSON.stringify(a)}, new ${JSON.stringify(b)}`);
  await expectText(page, `${key(keyId)} .item-head`, /Rotated/);
  await page.waitForSelector(`${key(keyId)} [data-fact="stops"]`);
  const newId = await page.$eval('#keys li', (li) => li.dataset.keyId);
  if (newId === keyId) fail('the rotated key is not listed first');
  step('rotated with 1 hour of grace: old and new secrets both answer me; the old key says when it stops');

  // 6. Revoke: cancelled (nothing happens), then confirmed (the key is refused).
  await page.click(`${key(newId)} [data-action="revoke"]`);
  await answerDialog(page, 'Revoke “deploy bot”?', { confirm: false });
  if ((await meWithKey(origin, rotated)).id !== userId) fail('a cancelled revocation revoked the key');
  await page.click(`${key(newId)} [data-action="revoke"]`);
  await page.waitForSelector('dialog[open]');
  await shoot(page, 'keys-revoke-confirm');
  await answerDialog(page, 'Revoke “deploy bot”?');
  await expectText(page, `${key(newId)} .item-head`, /Revoked/);
  const refused = await meWithKey(origin, rotated);
  if (refused.code !== 'UNAUTHENTICATED') fail(`the revoked key answered ${JSON.stringify(refused)}`);
  step(`revoke: Cancel changes nothing; confirmed: "Revoked", and the key is refused (${refused.code}: ${refused.message})`);
  await shoot(page, 'keys-revoked', { at: '#list-heading' });

  // 7. Delete the old (rotated) key: refused and gone.
  await page.click(`${key(keyId)} [data-action="delete"]`);
  await answerDialog(page, 'Delete “deploy bot”?');
  await page.waitForSelector(key(keyId), { state: 'detached' });
  if ((await meWithKey(origin, secret)).code !== 'UNAUTHENTICATED') fail('the deleted key still works');
  step('delete: the old key is gone from the list and refused');

  // 8. An action the API refuses: its message, verbatim, next to that key.
  const { createApiKey: doomed } = await api('createApiKey', CREATE, { i: { name: 'deleted elsewhere' } }, accessToken);
  await open(page, origin, '/account/keys');
  await page.waitForSelector(key(doomed.apiKey.id));
  await api('deleteApiKey', 'mutation ($id: ID!) { deleteApiKey(id: $id) }', { id: doomed.apiKey.id }, accessToken);
  const gone = await errorOf(origin, 'revokeApiKey (deleted)', 'mutation ($id: ID!) { revokeApiKey(id: $id) { id } }', { id: doomed.apiKey.id }, bearer(accessToken));
  await page.click(`${key(doomed.apiKey.id)} [data-action="revoke"]`);
  await answerDialog(page, 'Revoke “deleted elsewhere”?');
  await expectText(page, `${key(doomed.apiKey.id)} [role="alert"]`, gone);
  step(`revoking a key deleted elsewhere: "${gone}" next to it`);

  // 9. Paging: 72 keys, 25 a page.
  for (let i = 0; i < 70; i++) await api('createApiKey', CREATE, { i: { name: `bulk ${String(i).padStart(2, '0')}` } }, accessToken);
  const { apiKeys } = await api('apiKeys', '{ apiKeys(limit: 1) { total } }', {}, accessToken);
  await open(page, origin, '/account/keys');
  await expectText(page, '#keys-count', `${apiKeys.total} keys`);
  await expectText(page, '#keys-range', `1–25 of ${apiKeys.total}`);
  const seen = new Set(await page.$$eval('#keys li', (lis) => lis.map((li) => li.dataset.keyId)));
  for (const [range, more] of [[`26–50 of ${apiKeys.total}`, true], [`51–${apiKeys.total} of ${apiKeys.total}`, false]]) {
    await page.click('#keys-next');
    await expectText(page, '#keys-range', range);
    for (const id of await page.$$eval('#keys li', (lis) => lis.map((li) => li.dataset.keyId))) {
      if (seen.has(id)) fail(`key ${id} shows on two pages`);
      seen.add(id);
    }
    if ((await page.isDisabled('#keys-next')) === more) fail(`"Next" is ${more ? 'disabled' : 'enabled'} at ${range}`);
  }
  if (seen.size !== apiKeys.total) fail(`the pages showed ${seen.size} keys of ${apiKeys.total}`);
  const names = await texts(page, '#keys li h3');
  if (!names.includes('Default key')) fail(`the last page lacks the oldest key: ${names.join(', ')}`);
  step(`${apiKeys.total} keys in pages of 25: each shown once, the oldest on the last page`);
  await shoot(page, 'keys-paging', { at: '#keys li:nth-last-child(2)' });
  await page.click('#keys-prev');
  await expectText(page, '#keys-range', `26–50 of ${apiKeys.total}`);

  await sleep(300);
  assertClean(watcher);
  step('PASS: API keys created, shown once, used, rotated, revoked and deleted from /account/keys');
}

run(main, { timeoutMs: 240_000 });
