// Social sign-in on the server's own pages, in a real browser (Debian's Chromium,
// playwright-core), against stand-ins for Google and GitHub (provider-standins.mjs: the
// authorization-code flow with PKCE, Google's JWKS and RS256 ID tokens with the nonce,
// GitHub's token check, /user and /user/emails):
//
//   /login shows one button per configured provider (Google, GitHub; not Apple or X);
//   "Continue with Google" -> the provider -> /oauth/callback/google -> /account (a new,
//   verified account); the same callback URL opened again is refused by the page (the
//   state is used once) and never reaches the server; a callback this browser did not
//   start (login CSRF) is refused too; a cancelled sign-in says so; "Continue with
//   GitHub" -> /account; a Google account with two-factor on gets the second step on
//   the callback page.
//
// Screenshots in docs/pages/: login-providers(-phone).png, oauth-callback.png,
// oauth-callback-replay(-phone).png, oauth-callback-2fa.png.
//
//   cargo build --locked && npm ci --prefix tests/browser && node tests/browser/pages-social.mjs
import { fail, launchBrowser, makeGql, nodeSender, onCleanup, run, sleep, startServer, step, uniqueEmail } from './lib.mjs';
import { DESKTOP, PAGES_ENV, assertClean, assertNoTokensInStorage, authenticator, expectPath, expectText, shoot, watch } from './pages-lib.mjs';
import { startProviders } from './provider-standins.mjs';

async function signOut(page, origin) {
  await page.goto(`${origin}/account`);
  await page.click('#sign-out');
  await expectPath(page, '/login');
}

/** Clicks "Continue with <name>" on /login and follows the flow to `until`. */
async function continueWith(page, origin, provider, until = '/account') {
  await page.goto(`${origin}/login`);
  await page.click(`#providers [data-provider="${provider}"]`);
  await expectPath(page, until);
}

async function main() {
  const idp = await startProviders();
  onCleanup(() => idp.close());
  step(`provider stand-ins on ${idp.origin}`);
  const { origin } = await startServer({ tmpPrefix: 'latchkey-pages-social-', env: { ...PAGES_ENV, ...idp.env } });
  const api = makeGql(nodeSender(origin));

  const browser = await launchBrowser();
  const context = await browser.newContext({ viewport: DESKTOP });
  const page = await context.newPage();
  const watcher = await watch(page, origin, { allow: [idp.origin] });

  // 1. The configured providers, and only those.
  await page.goto(`${origin}/login`);
  await page.waitForSelector('#providers button');
  const buttons = await page.$$eval('#providers button', (bs) => bs.map((b) => [b.dataset.provider, b.textContent.trim()]));
  const want = [
    ['google', 'Continue with Google'],
    ['github', 'Continue with GitHub'],
  ];
  if (JSON.stringify(buttons) !== JSON.stringify(want)) fail(`the provider buttons are ${JSON.stringify(buttons)}, expected ${JSON.stringify(want)}`);
  step('/login: "Continue with Google", "Continue with GitHub" (Apple and X are not configured)');
  await shoot(page, 'login-providers', { phone: true });

  // 2. Google: a new account, its email verified by Google.
  const grace = { sub: 'g-1001', email: uniqueEmail('google'), name: 'Grace' };
  idp.nextUser('google', grace);
  await continueWith(page, origin, 'google');
  await expectText(page, '#account-email', grace.email);
  await expectText(page, '#account-verified', 'Email confirmed');
  await expectText(page, '#greeting', 'Hello, Grace');
  const auth = idp.state.authorizations.at(-1).params;
  if (auth.redirect_uri !== `${origin}/oauth/callback/google`) fail(`the redirect URI sent to Google is ${auth.redirect_uri}`);
  if (idp.state.tokenRequests.filter((t) => t.provider === 'google').length !== 1) fail('expected one code exchange at Google');
  await assertNoTokensInStorage(page);
  if (await page.evaluate(() => Object.keys(sessionStorage).length)) fail('the sign-in state is still in sessionStorage after use');
  step(`Google: signed in as ${grace.email} (verified), redirect URI ${auth.redirect_uri}, state used and forgotten`);

  // 3. The same callback URL again: refused by the page, the server never asked.
  const callback = idp.state.redirects.at(-1);
  const exchanges = idp.state.tokenRequests.length;
  const calls = () => watcher.requests.filter(([, url, body]) => url.endsWith('/session/graphql') && body.includes('oauthCallback')).length;
  const callsBefore = calls();
  await page.goto(callback);
  await expectText(page, '#failed-heading', 'This sign-in link cannot be used');
  await expectText(page, '#failed-message', /already used, or the sign-in did not start in this browser tab/);
  if (calls() !== callsBefore || idp.state.tokenRequests.length !== exchanges) fail('the replayed callback reached the server');
  if (new URL(page.url()).search) fail(`the callback page kept the code in its URL: ${page.url()}`);
  step('the same callback URL again: "This sign-in link cannot be used" (the page refused it; no oauthCallback, no code exchange)');
  await shoot(page, 'oauth-callback-replay', { phone: true });
  await page.click('#restart');
  await expectPath(page, '/login');

  // 4. A callback this browser never started (an attacker's link: login CSRF).
  const stranger = await browser.newContext({ viewport: DESKTOP });
  const sp = await stranger.newPage();
  const strangerWatch = await watch(sp, origin);
  const forged = new URL(callback);
  forged.searchParams.set('code', 'google-code-of-the-attacker');
  await sp.goto(forged.toString());
  await expectText(sp, '#failed-heading', 'This sign-in link cannot be used');
  step('a callback this browser did not start: refused the same way');

  // 5. A sign-in cancelled at the provider.
  await sp.goto(`${origin}/oauth/callback/github?error=access_denied&state=x`);
  await expectText(sp, '#failed-message', /did not finish: it was cancelled/);
  step('a cancelled sign-in: "The sign-in with GitHub did not finish: it was cancelled."');

  // 6. GitHub (the callback page photographed while the code is exchanged).
  await signOut(page, origin);
  const linus = { sub: '4242', email: uniqueEmail('github'), name: 'Linus' };
  idp.nextUser('github', linus);
  idp.state.tokenDelayMs = 1_500;
  await continueWith(page, origin, 'github', '/oauth/callback/github');
  await expectText(page, '#callback-status [role="status"]', 'Finishing the sign-in…');
  await expectText(page, '#callback-heading', 'Signing you in with GitHub');
  await shoot(page, 'oauth-callback');
  idp.state.tokenDelayMs = 0;
  await expectPath(page, '/account');
  await expectText(page, '#account-email', linus.email);
  await expectText(page, '#account-verified', 'Email confirmed');
  const gh = idp.state.apiRequests.map((r) => r.path);
  for (const p of ['/github/user', '/github/user/emails']) if (!gh.includes(p)) fail(`latchkey did not call GitHub's ${p} (it called ${gh.join(', ')})`);
  if (idp.state.apiRequests.some((r) => !r.userAgent)) fail('latchkey called GitHub without a User-Agent');
  step(`GitHub: signed in as ${linus.email} (GitHub's /user and /user/emails asked)`);

  // 7. A Google account with two-factor on: the second step on the callback page.
  const { google_auth: native } = await api(
    'google_auth',
    'mutation ($t: String!) { google_auth(token: $t) { __typename ... on AuthPayload { accessToken user { email } } } }',
    { t: idp.idToken(grace) },
  );
  if (native.__typename !== 'AuthPayload' || native.user.email !== grace.email) fail(`google_auth answered ${JSON.stringify(native)}`);
  const { generate_2fa: setup } = await api('generate_2fa', 'mutation { generate_2fa { secret } }', {}, native.accessToken);
  const app = authenticator(setup.secret);
  await api('enable_2fa', 'mutation ($t: String!) { enable_2fa(token: $t) { enabled } }', { t: await app.code() }, native.accessToken);
  step('two-factor on for the Google account (google_auth with a stand-in ID token, enable_2fa)');
  await signOut(page, origin);
  idp.nextUser('google', grace);
  await continueWith(page, origin, 'google', '/oauth/callback/google');
  await expectText(page, '#mfa-heading', 'Two-step verification');
  await shoot(page, 'oauth-callback-2fa');
  await page.fill('#mfa-code', await app.code());
  await page.keyboard.press('Enter');
  await expectPath(page, '/account');
  await expectText(page, '#account-email', grace.email);
  step('Google with two-factor: the code on the callback page, then /account');

  await sleep(300);
  assertClean(watcher);
  assertClean(strangerWatch);
  step('PASS: Google and GitHub sign-in through the pages; a replayed or foreign callback is refused');
}

run(main, { timeoutMs: 180_000 });
