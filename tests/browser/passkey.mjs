// End-to-end passkey test in a real browser: Debian's Chromium, driven by playwright-core,
// with a CDP virtual authenticator standing in for the platform authenticator.
//
//   signup -> confirmEmailVerification (the outbox's link)
//   -> generatePasskeyRegistrationChallenge -> navigator.credentials.create
//   -> registerPasskey -> generatePasskeyLoginChallenge (no email: discoverable)
//   -> navigator.credentials.get -> loginWithPasskey -> me
//
// It starts the server itself (LATCHKEY_BIN, default target/debug/latchkey, relative to
// the repository root) on a free port with a throw-away SQLite database, and opens
// http://localhost:<port>/graphql so that the page's origin is the WebAuthn origin.
//
//   cargo build --locked && npm ci --prefix tests/browser && node tests/browser/passkey.mjs
//
// Environment: LATCHKEY_BIN (server binary), CHROMIUM (default /usr/bin/chromium).
// The server, the timeout, the cleanup and the GraphQL helper are in lib.mjs.
import {
  addVirtualAuthenticator,
  fail,
  launchBrowser,
  makeGql,
  pageSender,
  readVerificationToken,
  run,
  startServer,
  step,
  uniqueEmail,
} from './lib.mjs';

const PASSWORD = 'correct-Horse-battery-9';
const DEVICE_NAME = 'Chromium virtual authenticator';

function jwtPayload(token) {
  const part = token.split('.')[1];
  if (!part) fail(`the access token is not a JWT: ${token.slice(0, 20)}...`);
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
}

async function main() {
  const { origin, outbox } = await startServer({ tmpPrefix: 'latchkey-passkey-' });
  const browser = await launchBrowser();
  const page = await browser.newPage();
  page.on('console', (m) => {
    // (requests to other origins are aborted below and log net::ERR_FAILED: not shown;
    // graphiql.mjs is the test that the page needs no other origin)
    if (m.type() === 'error' && !m.text().includes('net::ERR_FAILED')) console.log(`  [page console] ${m.text()}`);
  });
  // Only the server itself: CI may be offline.
  await page.route('**/*', (route) =>
    route.request().url().startsWith(`${origin}/`) ? route.continue() : route.abort(),
  );
  const nav = await page.goto(`${origin}/graphql`, { waitUntil: 'domcontentloaded' });
  if (nav?.status() !== 200) fail(`GET ${origin}/graphql answered ${nav?.status()}`);
  step(`opened ${page.url()} (GraphiQL page; page origin = WebAuthn origin)`);

  const { cdp, authenticatorId } = await addVirtualAuthenticator(page);
  step(`virtual authenticator ${authenticatorId} (ctap2, internal, resident keys, UV)`);

  // GraphQL requests sent by the page itself (fetch, same origin).
  const gql = makeGql(pageSender(page));

  // 1. signup
  const email = uniqueEmail('passkey');
  const signup = await gql(
    'signup',
    `mutation ($email: String!, $password: String!) {
       signup(email: $email, password: $password) { auth { accessToken user { id email } } }
     }`,
    { email, password: PASSWORD },
  );
  const accessToken = signup.signup.auth.accessToken;
  step(`signup ${email}: user ${signup.signup.auth.user.id}`);

  // 1b. verify the email (passkeys need a proven mailbox): the link from the outbox.
  const verifyToken = await readVerificationToken(outbox, email);
  const confirmed = await gql(
    'confirmEmailVerification',
    'mutation ($t: String!) { confirmEmailVerification(token: $t) }',
    { t: verifyToken },
  );
  if (confirmed.confirmEmailVerification !== true) fail('confirmEmailVerification did not answer true');
  step('email verified with the link from the outbox');

  // 2. registration challenge
  const regChallenge = await gql(
    'generatePasskeyRegistrationChallenge',
    'mutation { generatePasskeyRegistrationChallenge { options } }',
    {},
    accessToken,
  );
  const creationOptions = regChallenge.generatePasskeyRegistrationChallenge.options;
  if (!creationOptions?.publicKey) fail(`registration options lack "publicKey": ${JSON.stringify(creationOptions)}`);
  step(
    `generatePasskeyRegistrationChallenge: rp ${JSON.stringify(creationOptions.publicKey.rp)}, ` +
      `authenticatorSelection ${JSON.stringify(creationOptions.publicKey.authenticatorSelection ?? null)}`,
  );

  // 3. navigator.credentials.create
  const credential = await page.evaluate(async (options) => {
    try {
      const cred = await navigator.credentials.create({
        publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options.publicKey),
      });
      return { ok: cred.toJSON() };
    } catch (e) {
      return { error: `${e.name}: ${e.message}` };
    }
  }, creationOptions);
  if (credential.error) {
    fail(`navigator.credentials.create failed: ${credential.error}\n  options given: ${JSON.stringify(creationOptions)}`);
  }
  step(`navigator.credentials.create: credential ${credential.ok.id}`);

  // 4. registerPasskey
  const reg = await gql(
    'registerPasskey',
    `mutation ($credential: JSON!, $deviceName: String!) {
       registerPasskey(credential: $credential, device_name: $deviceName) { id deviceName createdAt backedUp }
     }`,
    { credential: credential.ok, deviceName: DEVICE_NAME },
    accessToken,
  );
  const passkey = reg.registerPasskey;
  step(`registerPasskey: ${JSON.stringify(passkey)}`);
  if (passkey.deviceName !== DEVICE_NAME) {
    fail(`registerPasskey returned deviceName ${JSON.stringify(passkey.deviceName)}, expected ${JSON.stringify(DEVICE_NAME)}`);
  }
  const { credentials: stored } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
  if (!stored.some((c) => c.isResidentCredential)) {
    fail('the authenticator holds no discoverable (resident) credential: usernameless login cannot work');
  }

  // 5. login challenge, no email: discoverable / usernameless
  const loginChallenge = await gql(
    'generatePasskeyLoginChallenge',
    'mutation { generatePasskeyLoginChallenge { options } }',
  );
  const requestOptions = loginChallenge.generatePasskeyLoginChallenge.options;
  if (!requestOptions?.publicKey) fail(`login options lack "publicKey": ${JSON.stringify(requestOptions)}`);
  step(
    `generatePasskeyLoginChallenge (no email): rpId ${requestOptions.publicKey.rpId}, ` +
      `allowCredentials ${JSON.stringify(requestOptions.publicKey.allowCredentials ?? [])}`,
  );

  // 6. navigator.credentials.get
  const assertion = await page.evaluate(async (options) => {
    try {
      const cred = await navigator.credentials.get({
        publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options.publicKey),
      });
      return { ok: cred.toJSON() };
    } catch (e) {
      return { error: `${e.name}: ${e.message}` };
    }
  }, requestOptions);
  if (assertion.error) {
    fail(`navigator.credentials.get failed: ${assertion.error}\n  options given: ${JSON.stringify(requestOptions)}`);
  }
  step(`navigator.credentials.get: assertion by credential ${assertion.ok.id}`);

  // 7. loginWithPasskey
  const login = await gql(
    'loginWithPasskey',
    `mutation ($credential: JSON!) {
       loginWithPasskey(credential: $credential) { accessToken tokenType expiresIn user { id email } }
     }`,
    { credential: assertion.ok },
  );
  const passkeyToken = login.loginWithPasskey.accessToken;
  const claims = jwtPayload(passkeyToken);
  step(
    `loginWithPasskey: ${login.loginWithPasskey.tokenType} token for ${login.loginWithPasskey.user.email}, ` +
      `expires in ${login.loginWithPasskey.expiresIn} s`,
  );
  step(`access token amr: ${JSON.stringify(claims.amr)}`);

  // 8. me, with the passkey login's token
  const me = await gql('me', 'query { me { id email } }', {}, passkeyToken);
  step(`me: ${JSON.stringify(me.me)}`);
  if (me.me.email !== email) fail(`me.email is ${JSON.stringify(me.me.email)}, expected ${JSON.stringify(email)}`);
  if (me.me.id !== signup.signup.auth.user.id) fail(`me.id is ${me.me.id}, expected ${signup.signup.auth.user.id}`);

  step('PASS: passkey registration and usernameless login work in Chromium');
}

run(main, { timeoutMs: 120_000 });
