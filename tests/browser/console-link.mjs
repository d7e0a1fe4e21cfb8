// Linking a sign-in provider from /account/security in a real browser (Debian's
// Chromium, playwright-core), against the stand-ins of provider-standins.mjs:
//
//   a password account signs in; "Link GitHub" -> the stand-in's authorize page -> back
//   to /oauth/callback/github, which (the stored flow says mode "link") calls
//   linkProvider with this browser's access token, not oauthCallback, and goes back to
//   /account/security: "GitHub is now linked", GitHub listed with its email; GitHub's
//   sign-in on /login then reaches this same account; the same callback URL again is
//   refused by the page; a GitHub account that belongs to another user: the API's
//   message on the callback page, with the way back to the security page; unlinking
//   (confirmed) removes it.
//
// Screenshots in docs/console/: security-providers, security-linked,
// security-link-refused (and -phone.png of each).
//
//   cargo build --locked && npm ci --prefix tests/browser && node tests/browser/console-link.mjs
import { fail, launchBrowser, makeGql, nodeSender, onCleanup, run, signupVerifyLogin, sleep, startServer, step, uniqueEmail } from './lib.mjs';
import { DESKTOP, assertClean, assertNoTokensInStorage, expectPath, expectText, watch } from './pages-lib.mjs';
import { startProviders } from './provider-standins.mjs';
import { CONSOLE_ENV, answerDialog, open, shoot, signIn, signOut, texts } from './console-lib.mjs';

const LINKED = '{ linkedProviders { provider email } }';

async function main() {
  const idp = await startProviders();
  onCleanup(() => idp.close());
  const server = await startServer({ tmpPrefix: 'latchkey-console-link-', env: { ...CONSOLE_ENV, ...idp.env } });
  const { origin, outbox } = server;
  const api = makeGql(nodeSender(origin));
  const { email, password, userId, accessToken } = await signupVerifyLogin(api, outbox, { prefix: 'linker' });

  const browser = await launchBrowser();
  const context = await browser.newContext({ viewport: DESKTOP });
  const page = await context.newPage();
  const watcher = await watch(page, origin, { allow: [idp.origin] });

  // 1. The providers section: nothing linked, a button per configured provider.
  await signIn(page, origin, email, password, '/account/security');
  await page.waitForSelector('#providers-none');
  const buttons = await texts(page, '#providers-body [data-link]');
  if (buttons.join() !== 'Link Google,Link GitHub') fail(`the link buttons are ${JSON.stringify(buttons)}`);
  await shoot(page, 'security-providers', { at: '#providers-section' });
  step('/account/security: no provider linked; "Link Google", "Link GitHub"');

  // 2. Link GitHub through the web flow.
  const octo = { sub: '5151', email: uniqueEmail('octo'), name: 'Octo' };
  idp.nextUser('github', octo);
  const before = watcher.requests.length;
  await page.click('#providers-body [data-link="github"]');
  await expectPath(page, '/account/security');
  await expectText(page, '#security-flash', 'GitHub is now linked to your account: you can sign in with it.');
  await expectText(page, '#linked-providers [data-provider="github"] h3', 'GitHub');
  await expectText(page, '#linked-providers [data-provider="github"] [data-fact="email"] dd', octo.email);
  if (new URL(page.url()).search) fail(`the security page kept ?linked in its URL: ${page.url()}`);
  const sent = watcher.requests.slice(before).filter(([, url]) => /\/(session\/)?graphql$/.test(url));
  const link = sent.find(([, url, body]) => url.endsWith('/graphql') && !url.endsWith('/session/graphql') && body.includes('linkProvider'));
  if (!link) fail('the callback page did not call linkProvider on /graphql');
  if (sent.some(([, , body]) => body.includes('oauthCallback'))) fail('the callback page called oauthCallback in a link flow');
  if (idp.state.authorizations.at(-1).params.redirect_uri !== `${origin}/oauth/callback/github`) fail('the redirect URI sent to GitHub is not the callback page');
  const { linkedProviders } = await api('linkedProviders', LINKED, {}, accessToken);
  if (linkedProviders.length !== 1 || linkedProviders[0].provider !== 'GITHUB') fail(`linkedProviders: ${JSON.stringify(linkedProviders)}`);
  if (await page.evaluate(() => Object.keys(sessionStorage).length)) fail('the flow is still in sessionStorage after use');
  await assertNoTokensInStorage(page);
  if (await page.isVisible('#providers-body [data-link="github"]')) fail('"Link GitHub" still shows once GitHub is linked');
  await shoot(page, 'security-linked', { at: '#providers-section' });
  step(`"Link GitHub": the stand-in, the callback page -> linkProvider (not oauthCallback) -> back here, GitHub (${octo.email}) listed`);

  // 3. The same callback URL again: refused by the page, nothing sent.
  const callback = idp.state.redirects.at(-1);
  const exchanges = idp.state.tokenRequests.length;
  await page.goto(callback);
  await expectText(page, '#failed-heading', 'This sign-in link cannot be used');
  if (idp.state.tokenRequests.length !== exchanges) fail('the replayed link callback reached GitHub');
  step('the link callback URL again: "This sign-in link cannot be used"');

  // 4. GitHub's sign-in now reaches this account.
  await open(page, origin, '/account');
  await signOut(page);
  idp.nextUser('github', octo);
  await page.click('#providers [data-provider="github"]');
  await expectPath(page, '/account');
  await expectText(page, '#account-email', email);
  step(`"Continue with GitHub" on /login signs in to ${email}, the account GitHub was linked to`);

  // 5. A GitHub account that belongs to someone else: the API's message, and the way back.
  const other = { sub: '6262', email: uniqueEmail('taken'), name: 'Taken' };
  const stranger = await browser.newContext({ viewport: DESKTOP });
  const sp = await stranger.newPage();
  idp.nextUser('github', other);
  await sp.goto(`${origin}/login`);
  await sp.click('#providers [data-provider="github"]');
  await expectPath(sp, '/account');
  await expectText(sp, '#account-email', other.email);
  await stranger.close();
  await open(page, origin, '/account/security');
  await page.click('#linked-providers [data-provider="github"] [data-action="unlink"]');
  await answerDialog(page, 'Unlink GitHub?');
  await page.waitForSelector('#providers-none');
  idp.nextUser('github', other);
  await page.click('#providers-body [data-link="github"]');
  await expectPath(page, '/oauth/callback/github');
  await expectText(page, '#failed-heading', 'GitHub was not linked');
  await expectText(page, '#failed-message', 'This GitHub account is linked to another account of this server; unlink it there first.');
  await expectText(page, '#restart', 'Back to security');
  await shoot(page, 'security-link-refused');
  await page.click('#restart');
  await expectPath(page, '/account/security');
  step('unlinked (confirmed); a GitHub account of another user: the API\'s "This GitHub account is linked to another account…" on the callback page, "Back to security"');

  // 6. Unlinked for good: the list and the API agree.
  await page.waitForSelector('#providers-none');
  const after = await api('linkedProviders', LINKED, {}, accessToken);
  if (after.linkedProviders.length) fail(`still linked: ${JSON.stringify(after.linkedProviders)}`);
  if ((await api('me', '{ me { id } }', {}, accessToken)).me.id !== userId) fail('the account is gone');
  step('nothing linked, as linkedProviders says');

  await sleep(300);
  assertClean(watcher);
  step('PASS: linking and unlinking GitHub from /account/security through the web flow');
}

run(main, { timeoutMs: 180_000 });
