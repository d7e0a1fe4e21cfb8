// Shared parts of the tests of the server's own pages (pages-*.mjs): watching a page for
// errors, CSP violations and other origins; screenshots at 1280x800 and 390x844 into
// docs/pages/; the emailed links in the outbox; TOTP codes (RFC 6238); the checks of
// an error shown next to its field; the pages' HTTP headers.
import { createHmac } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fail, repoRoot, sleep, step } from './lib.mjs';

export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };
export const SHOTS = path.join(repoRoot, 'docs', 'pages');
export const PASSWORD = 'correct-Horse-battery-9';

/** The settings every pages test gives its server (on top of lib.mjs's). */
export const PAGES_ENV = {
  // Every /login load asks for a passkey challenge (autofill), which counts as a sign-in
  // attempt: a test loads the page more often in a minute than a person does.
  LATCHKEY_RATE_LIMIT__LOGIN_PER_MINUTE: '100',
};

/**
 * Records what a page must not do: console errors, uncaught exceptions, CSP violations,
 * requests to origins other than `origin` and `allow` (those are aborted), server errors.
 * Returns { problems, foreign, requests } (requests: [method, url, postData] of the origin).
 */
export async function watch(page, origin, { allow = [] } = {}) {
  const problems = [];
  const foreign = [];
  const requests = [];
  const allowed = new Set([origin, ...allow]);
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const url = m.location()?.url || '';
    // A fetch answered 4xx is logged by Chromium; the pages expect some (401 of
    // /session/refresh when signed out).
    if (m.text().startsWith('Failed to load resource') && /\/session\/refresh$/.test(url)) return;
    problems.push(`console error: ${m.text()} (${url})`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('response', (r) => {
    if (r.status() >= 500 && r.url().startsWith(`${origin}/`)) problems.push(`HTTP ${r.status()} for ${r.url()}`);
  });
  page.on('request', (r) => {
    if (r.url().startsWith(`${origin}/`)) requests.push([r.method(), r.url(), r.postData() || '']);
  });
  await page.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith('data:') || allowed.has(new URL(url).origin)) return route.continue();
    foreign.push(url);
    return route.abort('blockedbyclient');
  });
  await page.exposeBinding('__latchkeyCspViolation', (_s, v) => problems.push(`CSP violation: ${v}`));
  await page.addInitScript(() =>
    document.addEventListener('securitypolicyviolation', (e) =>
      window.__latchkeyCspViolation(`${e.effectiveDirective} blocked ${e.blockedURI} (${e.sourceFile}:${e.lineNumber})`),
    ),
  );
  return { problems, foreign, requests };
}

/** Fails when `watch` saw anything. */
export function assertClean({ problems, foreign }) {
  if (foreign.length) fail(`a page tried other origins:\n  ${[...new Set(foreign)].join('\n  ')}`);
  if (problems.length) fail(`the pages reported:\n  ${problems.join('\n  ')}`);
}

/**
 * Saves docs/pages/<name>.png (1280x800) and, with `phone`, <name>-phone.png (390x844);
 * fails when the page is wider than the phone's screen.
 */
export async function shoot(page, name, { phone = false } = {}) {
  mkdirSync(SHOTS, { recursive: true });
  await page.mouse.move(0, 0);
  await sleep(150);
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
  if (!phone) {
    step(`saved docs/pages/${name}.png`);
    return;
  }
  await page.setViewportSize(PHONE);
  await sleep(150);
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  if (width > PHONE.width) fail(`${name}: the page is ${width} px wide at ${PHONE.width} px (it scrolls sideways)`);
  await page.screenshot({ path: path.join(SHOTS, `${name}-phone.png`) });
  await page.setViewportSize(DESKTOP);
  step(`saved docs/pages/${name}.png and ${name}-phone.png`);
}

/** Waits for `selector` to be visible with exactly (or matching) `text`. */
export async function expectText(page, selector, text, { timeout = 10_000 } = {}) {
  const loc = page.locator(selector);
  try {
    await loc.waitFor({ state: 'visible', timeout });
    const deadline = Date.now() + timeout;
    for (;;) {
      const got = (await loc.innerText()).trim();
      if (text instanceof RegExp ? text.test(got) : got === text) return got;
      if (Date.now() > deadline) fail(`${selector} says ${JSON.stringify(got)}, expected ${text instanceof RegExp ? text : JSON.stringify(text)} (on ${page.url()})`);
      await sleep(100);
    }
  } catch (e) {
    if (e.name === 'TestFailure' || e.constructor?.name === 'TestFailure') throw e;
    const body = (await page.locator('body').innerText().catch(() => '')).slice(0, 800);
    fail(`${selector} did not show on ${page.url()} (${e.message.split('\n')[0]}); the page says:\n${body}`);
  }
}

/**
 * The field `input` shows `message` (exactly) as its error: linked by aria-describedby,
 * aria-invalid="true", and the focus on it.
 */
export async function expectFieldError(page, input, message) {
  await page.waitForFunction((sel) => document.querySelector(sel)?.getAttribute('aria-invalid') === 'true', input, {
    timeout: 10_000,
  }).catch(async () => fail(`${input} was not marked invalid; the page says:\n${(await page.locator('body').innerText()).slice(0, 800)}`));
  const got = await page.$eval(input, (el) => ({
    described: (el.getAttribute('aria-describedby') || '')
      .split(/\s+/)
      .map((id) => document.getElementById(id)?.textContent.trim())
      .filter(Boolean),
    focused: document.activeElement === el,
  }));
  if (!got.described.includes(message)) {
    fail(`${input}'s aria-describedby texts are ${JSON.stringify(got.described)}, expected the API's message ${JSON.stringify(message)}`);
  }
  if (!got.focused) fail(`the focus is not on ${input} after its error`);
}

/** The page's URL becomes `pathname` (a string, or a RegExp on pathname + search). */
export async function expectPath(page, pathname, timeout = 15_000) {
  try {
    await page.waitForURL((u) => (pathname instanceof RegExp ? pathname.test(u.pathname + u.search) : u.pathname === pathname), {
      timeout,
    });
  } catch {
    const body = (await page.locator('body').innerText().catch(() => '')).slice(0, 800);
    fail(`expected to reach ${pathname}, still on ${page.url()}; the page says:\n${body}`);
  }
}

function decodeMail(file) {
  return readFileSync(file, 'utf8').replace(/=\r?\n/g, '').replace(/=3D/g, '=');
}

/**
 * The token of the newest `/<kind>?token=` link mailed to `email` that is not in
 * `seen` (a Set of file names, updated); waits up to 10 s.
 */
export async function mailedToken(outbox, email, kind, seen = new Set()) {
  const re = new RegExp(`/${kind}\\?token=([A-Za-z0-9_-]+)`);
  for (let i = 0; i < 100; i++) {
    let files = [];
    try {
      files = readdirSync(outbox).filter((f) => f.endsWith('.eml') && !seen.has(f)).sort();
    } catch {}
    for (const f of files.reverse()) {
      const text = decodeMail(path.join(outbox, f));
      const m = text.includes(`To: ${email}`) && text.match(re);
      if (m) {
        seen.add(f);
        return m[1];
      }
    }
    await sleep(100);
  }
  fail(`no new ${kind} email for ${email} in ${outbox}`);
}

/** How many messages to `email` carry a `/<kind>?token=` link. */
export function mailCount(outbox, email, kind) {
  let files = [];
  try {
    files = readdirSync(outbox).filter((f) => f.endsWith('.eml'));
  } catch {}
  return files.filter((f) => {
    const t = decodeMail(path.join(outbox, f));
    return t.includes(`To: ${email}`) && t.includes(`/${kind}?token=`);
  }).length;
}

function base32(s) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of s.replace(/=+$/, '').toUpperCase()) {
    const v = alphabet.indexOf(c);
    if (v < 0) fail(`not base32: ${s}`);
    bits += v.toString(2).padStart(5, '0');
  }
  const bytes = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(parseInt(bits.slice(i, i + 8), 2));
  return Buffer.from(bytes);
}

/** The TOTP code (RFC 6238: SHA-1, 6 digits, 30 s) of `secret` (base32) for time step `step`. */
export function totp(secret, step) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac('sha1', base32(secret)).update(counter).digest();
  const offset = mac[mac.length - 1] & 0xf;
  const n = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return String(n).padStart(6, '0');
}

/**
 * An authenticator app: each code() is for a step the server has not seen (it takes a
 * code once, within one step of now), waiting for the next step when needed.
 */
export function authenticator(secret) {
  let last = -1;
  return {
    async code() {
      for (;;) {
        const now = Math.floor(Date.now() / 1000 / 30);
        // The server takes the steps next to its own too: now + 1 is good for 30 s at least.
        const candidates = [now, now + 1];
        const s = candidates.find((c) => c > last);
        if (s !== undefined) {
          last = s;
          return totp(secret, s);
        }
        await sleep(1_000);
      }
    },
  };
}

/** GETs each page from node: 200, HTML, the CSP, no inline script or style, the noscript text. */
export async function checkPagesServed(origin) {
  const paths = ['/login', '/signup', '/forgot-password', '/reset-password?token=x', '/verify-email?token=x', '/account', '/account/keys', '/account/security', '/admin', '/oauth/callback/google'];
  for (const p of paths) {
    const res = await fetch(`${origin}${p}`, { redirect: 'manual' });
    const html = await res.text();
    if (res.status !== 200) fail(`GET ${p} answered ${res.status}: ${html.slice(0, 200)}`);
    if (!/^text\/html/.test(res.headers.get('content-type') || '')) fail(`GET ${p} is ${res.headers.get('content-type')}`);
    const csp = res.headers.get('content-security-policy') || '';
    for (const d of ["default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"]) {
      if (!csp.includes(d)) fail(`GET ${p}: the CSP lacks ${d}: ${JSON.stringify(csp)}`);
    }
    for (const [re, what] of [
      [/<script(?![^>]*\bsrc=)[^>]*>/i, 'an inline <script>'],
      [/<style[\s>]/i, 'a <style> element'],
      [/\sstyle\s*=/i, 'a style attribute'],
      [/\son[a-z]+\s*=/i, 'an inline event handler'],
      [/\{\{\w+\}\}/, 'a placeholder left unreplaced'],
    ]) {
      if (re.test(html)) fail(`GET ${p}: the HTML has ${what}: ${html.match(re)[0]}`);
    }
    if (!/<noscript>[\s\S]*needs JavaScript[\s\S]*<\/noscript>/.test(html)) fail(`GET ${p}: no <noscript> message`);
    const config = html.match(/data-config="([^"]*)"/)?.[1];
    if (config === undefined) fail(`GET ${p}: no data-config on <body>`);
    const parsed = JSON.parse(config.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&'));
    if (!Array.isArray(parsed.providers) || typeof parsed.appUrl !== 'string') fail(`GET ${p}: data-config is ${config}`);
  }
  const root = await fetch(`${origin}/`, { redirect: 'manual' });
  if (root.status !== 302 && root.status !== 303 && root.status !== 307) fail(`GET / answered ${root.status}, expected a redirect`);
  if (root.headers.get('location') !== '/login') fail(`GET / without a session goes to ${root.headers.get('location')}, not /login`);
  step(`GET ${paths.join(', ')}: 200, CSP, no inline script or style, a <noscript> message; / goes to /login`);
}

/** The message of the first error `query` answers from node (fails when it answers none). */
export async function apiError(origin, label, query, variables = {}) {
  const r = await fetch(`${origin}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  const body = await r.json();
  const message = body.errors?.[0]?.message;
  if (!message) fail(`${label}: expected an error, got ${JSON.stringify(body).slice(0, 500)}`);
  return message;
}

/** The browser's cookies of `origin` (any path), by name. */
export async function cookiesByName(context, origin) {
  const host = new URL(origin).hostname;
  return Object.fromEntries((await context.cookies()).filter((c) => c.domain.replace(/^\./, '') === host).map((c) => [c.name, c]));
}

/** Fails when this page's storage holds anything like a token (JWT or refresh token). */
export async function assertNoTokensInStorage(page) {
  const stored = await page.evaluate(() => [...Object.entries(localStorage), ...Object.entries(sessionStorage)]);
  const bad = stored.filter(([, v]) => /eyJ[A-Za-z0-9_-]{10,}\./.test(v) || /refresh/i.test(v));
  if (bad.length) fail(`web storage holds tokens: ${bad.map(([k]) => k).join(', ')}`);
}
