// The team pages in a real browser (Debian's Chromium, playwright-core):
//
//   an OWNER signs in on /account/tenant: the team's name, one member, the invite form;
//   invites a colleague by email (pending listed); the colleague, signed out, opens the
//   emailed /accept-invite link, creates an account from it and lands in the team as a
//   MEMBER; the OWNER makes them an ADMIN, sees the key they made in the team and
//   revokes it; creates another team and switches to it (the browser's session moves:
//   a reload stays there); a signed-in invitee joins from the link with "Join the team".
//
// Screenshots in docs/console/: tenant-owner, tenant-accept-signed-out, tenant-member,
// tenant-switched (and -phone.png of each).
//
//   cargo build --locked && npm ci --prefix tests/browser && node tests/browser/console-tenant.mjs
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fail, launchBrowser, makeGql, nodeSender, run, signupVerifyLogin, sleep, startServer, step, uniqueEmail } from './lib.mjs';
import { DESKTOP, assertClean, expectPath, expectText, watch } from './pages-lib.mjs';
import { CONSOLE_ENV, nodeLogin, open, shoot, signIn, texts } from './console-lib.mjs';

const PASSWORD = 'correct-Horse-battery-9';

/** The token of the latest /accept-invite link mailed to `email`. */
async function invitationToken(outbox, email) {
  for (let i = 0; i < 100; i++) {
    const found = [];
    for (const f of readdirSync(outbox).filter((n) => n.endsWith('.eml')).sort()) {
      const text = readFileSync(path.join(outbox, f), 'utf8').replace(/=\r?\n/g, '').replace(/=3D/g, '=');
      const m = text.includes(`To: ${email}`) && text.match(/\/accept-invite\?token=([A-Za-z0-9_-]+)/);
      if (m) found.push(m[1]);
    }
    if (found.length) return found.at(-1);
    await sleep(100);
  }
  fail(`no invitation email for ${email}`);
}

async function main() {
  const server = await startServer({ tmpPrefix: 'latchkey-console-tenant-', env: CONSOLE_ENV });
  const { origin, outbox } = server;
  const api = makeGql(nodeSender(origin));
  const ada = await signupVerifyLogin(api, outbox, { prefix: 'owner', password: PASSWORD });
  const team = `${ada.email.split('@')[0]}'s team`;

  const browser = await launchBrowser();
  const context = await browser.newContext({ viewport: DESKTOP });
  const page = await context.newPage();
  const watcher = await watch(page, origin);

  // 1. The OWNER's page.
  await signIn(page, origin, ada.email, PASSWORD, '/account/tenant');
  await expectText(page, '#tenant-heading', team);
  await expectText(page, '#members-count', '1 member');
  if ((await page.isHidden('#invite-panel')) || (await page.isHidden('#rename-panel'))) fail('an OWNER is not offered invitations and renaming');
  if (!(await texts(page, '#console-nav a')).includes('Team')) fail('the navigation has no "Team" link');
  step(`/account/tenant: "${team}", 1 member, invite and rename offered`);

  // 2. Inviting a colleague.
  const bobEmail = uniqueEmail('colleague');
  await page.fill('#invite-email', bobEmail);
  await page.click('#invite-submit');
  await expectText(page, `#invitations [data-invitation="${bobEmail}"] h3`, bobEmail);
  await shoot(page, 'tenant-owner', { full: true });
  step(`invited ${bobEmail}: pending`);

  // 3. The colleague, signed out, opens the link and signs up from it.
  const token = await invitationToken(outbox, bobEmail);
  const bobContext = await browser.newContext({ viewport: DESKTOP });
  const bobPage = await bobContext.newPage();
  const bobWatcher = await watch(bobPage, origin);
  await bobPage.goto(`${origin}/accept-invite?token=${token}`);
  await bobPage.waitForSelector('#invite-signed-out', { state: 'visible' });
  await shoot(bobPage, 'tenant-accept-signed-out');
  await bobPage.click('#invite-sign-up');
  await expectPath(bobPage, '/signup');
  await bobPage.fill('#email', bobEmail);
  await bobPage.fill('#password', PASSWORD);
  await bobPage.click('#signup-submit');
  await expectPath(bobPage, '/account/tenant');
  await expectText(bobPage, '#tenant-heading', team);
  await expectText(bobPage, '#members-count', '2 members');
  if (!(await bobPage.isHidden('#invite-panel'))) fail('a MEMBER is offered the invite form');
  await shoot(bobPage, 'tenant-member', { full: true });
  step('the colleague signed up from the link and is a MEMBER of the team (no invite form)');

  // 4. The OWNER makes them an ADMIN, and revokes the key they made in the team.
  const bobToken = await nodeLogin(origin, bobEmail, PASSWORD);
  await api('createApiKey', 'mutation { createApiKey(input: { name: "colleague bot" }) { secret } }', {}, bobToken);
  await open(page, origin, '/account/tenant');
  await page.click(`#members [data-member="${bobEmail}"] [data-action="role"]`);
  await expectText(page, `#members [data-member="${bobEmail}"] .badge`, 'Admin');
  const keyNames = await texts(page, '#tenant-keys h3');
  if (!keyNames.includes('colleague bot')) fail(`the team's keys are ${keyNames.join(', ')}`);
  const bobKey = '#tenant-keys li:has(h3:text-is("colleague bot"))';
  await page.click(`${bobKey} [data-action="revoke-key"]`);
  await expectText(page, `${bobKey} .badge`, 'Revoked');
  step('the OWNER made the colleague an ADMIN and revoked a member\'s key');

  // 5. Another team, and switching to it; a reload stays there.
  await page.fill('#new-tenant-name', 'Acme');
  await page.click('#create-submit');
  await expectText(page, '#tenants [data-tenant="Acme"] h3', 'Acme');
  await page.click('#tenants [data-tenant="Acme"] [data-action="switch"]');
  await expectText(page, '#tenant-heading', 'Acme');
  await page.reload();
  await expectText(page, '#tenant-heading', 'Acme');
  await shoot(page, 'tenant-switched', { full: true });
  step('created "Acme" and switched to it: the page (and a reload) shows it');

  // 6. A signed-in invitee joins with the button.
  const carol = await signupVerifyLogin(api, outbox, { prefix: 'invitee', password: PASSWORD });
  await page.fill('#invite-email', carol.email);
  await page.click('#invite-submit');
  const carolToken = await invitationToken(outbox, carol.email);
  const carolContext = await browser.newContext({ viewport: DESKTOP });
  const carolPage = await carolContext.newPage();
  const carolWatcher = await watch(carolPage, origin);
  const here = `/accept-invite?token=${carolToken}`;
  await carolPage.goto(`${origin}/login?next=${encodeURIComponent(here)}`);
  await carolPage.fill('#email', carol.email);
  await carolPage.fill('#password', PASSWORD);
  await carolPage.click('#login-submit');
  await carolPage.waitForSelector('#invite-signed-in', { state: 'visible' });
  await carolPage.click('#accept');
  await expectPath(carolPage, '/account/tenant');
  await expectText(carolPage, '#tenant-heading', 'Acme');
  step('a signed-in invitee joined "Acme" with "Join the team"');
  // The same link again: the page says why not.
  await carolPage.goto(`${origin}${here}`);
  await carolPage.click('#accept');
  await carolPage.waitForSelector('#invite-failed', { state: 'visible' });
  step('the used link again: "This invitation cannot be used"');

  for (const w of [watcher, bobWatcher, carolWatcher]) assertClean(w);
  step('PASS: a colleague invited, joined from the emailed link, managed; teams created and switched');
}

run(main, { timeoutMs: 180_000 });
