// The server's own pages with second factors and passkeys, in a real browser (Debian's
// Chromium, playwright-core, a CDP virtual authenticator):
//
//   an account (signup, verified, login: through the API) registers a passkey from the
//   page (generatePasskeyRegistrationChallenge -> navigator.credentials.create ->
//   registerPasskey) and turns TOTP on (generate_2fa, enable_2fa with a code computed
//   here, RFC 6238); then on /login: email + password -> the second step (a wrong code:
//   the API's message next to the field; the right code -> /account); again with a
//   recovery code; and "Sign in with a passkey" (usernameless) -> /account with no
//   second step (a passkey is a whole multi-factor sign-in); and the passkey autofill
//   (conditional mediation, started on load) signs in when the authenticator answers.
//
// Screenshots in docs/pages/: login-2fa(-phone).png, login-2fa-error.png,
// login-2fa-recovery.png, account-passkey.png.
//
//   cargo build --locked && npm ci --prefix tests/browser && node tests/browser/pages-factors.mjs
import { addVirtualAuthenticator, fail, launchBrowser, makeGql, nodeSender, pageSender, run, signupVerifyLogin, sleep, startServer, step } from './lib.mjs';
import {
  DESKTOP,
  PAGES_ENV,
  assertClean,
  assertNoTokensInStorage,
  authenticator,
  expectFieldError,
  expectPath,
  expectText,
  shoot,
  totp,
  watch,
} from './pages-lib.mjs';

// Registers a passkey for the account of `accessToken`, from the page (its origin is the
// WebAuthn origin), with the virtual authenticator.
async function registerPasskey(page, accessToken) {
  const gql = makeGql(pageSender(page));
  const { generatePasskeyRegistrationChallenge: c } = await gql(
    'generatePasskeyRegistrationChallenge',
    'mutation { generatePasskeyRegistrationChallenge { options } }',
    {},
    accessToken,
  );
  const created = await page.evaluate(async (options) => {
    try {
      const cred = await navigator.credentials.create({ publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options.publicKey) });
      return { ok: cred.toJSON() };
    } catch (e) {
      return { error: `${e.name}: ${e.message}` };
    }
  }, c.options);
  if (created.error) fail(`navigator.credentials.create failed: ${created.error}`);
  const { registerPasskey: passkey } = await gql(
    'registerPasskey',
    'mutation ($c: JSON!, $n: String!) { registerPasskey(credential: $c, device_name: $n) { id deviceName } }',
    { c: created.ok, n: 'Chromium virtual authenticator' },
    accessToken,
  );
  step(`registerPasskey (from the page): ${passkey.id}`);
}

async function passwordStep(page, origin, email, password) {
  await page.goto(`${origin}/login`);
  await page.fill('#email', email);
  await page.fill('#password', password);
  await page.click('#login-submit');
  await expectText(page, '#mfa-heading', 'Two-step verification');
  if (!(await page.evaluate(() => document.activeElement?.id === 'mfa-code'))) fail('the focus is not on the code field of the second step');
}

async function signOut(page, origin) {
  await page.goto(`${origin}/account`);
  await page.click('#sign-out');
  await expectPath(page, '/login');
}

async function main() {
  const { origin, outbox } = await startServer({ tmpPrefix: 'latchkey-pages-factors-', env: PAGES_ENV });
  const api = makeGql(nodeSender(origin));
  const { email, password, accessToken } = await signupVerifyLogin(api, outbox, { prefix: 'factors' });

  const browser = await launchBrowser();
  const context = await browser.newContext({ viewport: DESKTOP });
  const page = await context.newPage();
  const watcher = await watch(page, origin);
  const { cdp, authenticatorId } = await addVirtualAuthenticator(page);
  step(`virtual authenticator ${authenticatorId}`);

  // 1. A passkey, registered from a page of the server (one with no WebAuthn of its own).
  await page.goto(`${origin}/forgot-password`);
  await registerPasskey(page, accessToken);

  // The virtual authenticator answers the /login page's autofill request at once (no
  // person to pick a passkey): it waits instead until the passkey steps below.
  const presence = (enabled) => cdp.send('WebAuthn.setAutomaticPresenceSimulation', { authenticatorId, enabled });
  await presence(false);

  // 2. TOTP on, through the API, with codes computed here.
  const { generate_2fa: setup } = await api('generate_2fa', 'mutation { generate_2fa { secret otpauthUrl } }', {}, accessToken);
  const app = authenticator(setup.secret);
  const { enable_2fa: enabled } = await api('enable_2fa', 'mutation ($t: String!) { enable_2fa(token: $t) { enabled recoveryCodes } }', { t: await app.code() }, accessToken);
  if (!enabled.enabled || enabled.recoveryCodes.length !== 10) fail(`enable_2fa answered ${JSON.stringify(enabled)}`);
  step('two-factor authentication on (enable_2fa with a code computed in node)');

  // 3. Password, then the second step: a wrong code, then the right one.
  const { login: pending } = await api(
    'login (for the wrong-code message)',
    'mutation ($e: String!, $p: String!) { login(email: $e, password: $p) { ... on TwoFactorRequired { userId mfaToken } } }',
    { e: email, p: password },
  );
  const now = Math.floor(Date.now() / 30_000);
  const wrongCode = ['000000', '111111', '222222'].find((c) => ![now - 1, now, now + 1, now + 2].some((s) => totp(setup.secret, s) === c));
  const wrongRes = await fetch(`${origin}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      query: 'mutation ($u: ID!, $t: String!, $m: String) { verify_2fa_code(user_id: $u, token: $t, mfa_token: $m) { accessToken } }',
      variables: { u: pending.userId, t: wrongCode, m: pending.mfaToken },
    }),
  }).then((r) => r.json());
  const wrongMessage = wrongRes.errors?.[0]?.message;
  if (!wrongMessage) fail(`a wrong code was not refused: ${JSON.stringify(wrongRes)}`);

  await passwordStep(page, origin, email, password);
  step('password accepted: the second step asks for the authenticator code');
  await shoot(page, 'login-2fa', { phone: true });
  await page.fill('#mfa-code', wrongCode);
  await page.click('#mfa-form button[type="submit"]');
  await expectFieldError(page, '#mfa-code', wrongMessage);
  step(`a wrong code: "${wrongMessage}" next to the code field`);
  await shoot(page, 'login-2fa-error');
  await page.fill('#mfa-code', await app.code());
  await page.keyboard.press('Enter');
  await expectPath(page, '/account');
  await expectText(page, '#account-email', email);
  await assertNoTokensInStorage(page);
  step('the right code: signed in, on /account');

  // 4. A recovery code instead.
  await signOut(page, origin);
  await passwordStep(page, origin, email, password);
  await page.click('#mfa-switch');
  await expectText(page, 'label[for="mfa-code"]', 'Recovery code');
  await page.fill('#mfa-code', enabled.recoveryCodes[0]);
  await shoot(page, 'login-2fa-recovery');
  await page.click('#mfa-form button[type="submit"]');
  await expectPath(page, '/account');
  await expectText(page, '#account-email', email);
  step('a recovery code: signed in, on /account');

  // 5. "Sign in with a passkey": usernameless, and no second step.
  await signOut(page, origin);
  const before = watcher.requests.length;
  await page.goto(`${origin}/login`);
  const autocomplete = await page.getAttribute('#email', 'autocomplete');
  if (autocomplete !== 'username webauthn') fail(`the email field's autocomplete is ${JSON.stringify(autocomplete)}`);
  const conditional = await page.evaluate(() => PublicKeyCredential.isConditionalMediationAvailable());
  if (conditional) {
    const deadline = Date.now() + 5_000;
    const started = () => watcher.requests.slice(before).some(([, url, body]) => url.endsWith('/graphql') && body.includes('generatePasskeyLoginChallenge'));
    while (!started() && Date.now() < deadline) await sleep(100);
    if (!started()) fail('/login did not start the passkey autofill (no generatePasskeyLoginChallenge on load)');
    step('/login offers passkeys in the email field: autocomplete="username webauthn", a conditional request on load');
  } else {
    step('this Chromium has no conditional mediation: the autofill is not checked');
  }
  await sleep(500);
  if (page.url().endsWith('/account')) fail('the autofill signed in without the user picking a passkey');
  await presence(true);
  await page.click('#passkey-button');
  await expectPath(page, '/account');
  await expectText(page, '#account-email', email);
  const challenges = watcher.requests.slice(before).filter(([, url, body]) => url.endsWith('/graphql') && body.includes('generatePasskeyLoginChallenge'));
  if (conditional && challenges.length < 2) fail('the passkey button did not start a ceremony of its own');
  step('"Sign in with a passkey": signed in with no second step, on /account');
  await shoot(page, 'account-passkey');

  // 6. The autofill: the virtual authenticator answers the conditional request as a
  // person picking the passkey in the email field's suggestions would.
  if (conditional) {
    await signOut(page, origin);
    await expectPath(page, '/account');
    await expectText(page, '#account-email', email);
    step('the passkey autofill (conditional mediation) on /login signed in: on /account');
  }

  await sleep(300);
  assertClean(watcher);
  step('PASS: two-step sign-in (code, recovery code) and passkey sign-in on /login');
}

run(main, { timeoutMs: 180_000 });
