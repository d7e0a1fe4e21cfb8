// GraphiQL, served by latchkey itself, in a real browser (Debian's Chromium, playwright-core):
//
//   GET /graphql is the page, its scripts and styles come from /assets/graphiql/ only, under
//   a CSP with script-src 'self'; the page tries no other origin, logs no console error,
//   reports no CSP violation and throws nothing; the docs explorer lists latchkey's Query
//   fields; a token typed into the Headers tab authenticates `{ me { id } }` (and so does an
//   X-API-Key); headers never reach localStorage.
//
// Screenshots: docs/graphiql.png (1280x800, docs explorer on Query, the result of `me`) and
// docs/graphiql-phone.png (390x844).
//
//   cargo build --locked && npm ci --prefix tests/browser && node tests/browser/graphiql.mjs
//
// Environment: LATCHKEY_BIN (server binary), CHROMIUM (default /usr/bin/chromium).
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { buildSchema } from 'graphql';
import {
  fail,
  launchBrowser,
  makeGql,
  nodeSender,
  repoRoot,
  run,
  signupVerifyLogin,
  sleep,
  startServer,
  step,
} from './lib.mjs';

const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
const SHOTS = path.join(repoRoot, 'docs');

const SEL = {
  container: '.graphiql-container',
  queryEditor: 'section.graphiql-query-editor .CodeMirror',
  headersTab: '.graphiql-editor-tools button:text-is("Headers")',
  headersEditor: 'section.graphiql-editor-tool[aria-label="Headers"] .graphiql-editor:not(.hidden) .CodeMirror',
  run: 'button.graphiql-execute-button',
  result: 'section.result-window .CodeMirror',
  docsButton: 'button[aria-label="Show Documentation Explorer"]',
  docsHide: 'button[aria-label="Hide Documentation Explorer"]',
  docExplorer: '.graphiql-doc-explorer',
  settings: 'button[aria-label="Open settings dialog"]',
  shortKeys: 'button[aria-label="Open short keys dialog"]',
  dialog: '[role="dialog"]',
};

// The page as node sees it: CSP, and no inline script or style in the HTML.
async function checkPageHeaders(origin) {
  const asset = await fetch(`${origin}/assets/graphiql/init.js`);
  if (asset.status !== 200) {
    fail(`GET /assets/graphiql/init.js answered ${asset.status}: this server build does not serve the vendored GraphiQL`);
  }
  const res = await fetch(`${origin}/graphql`, { headers: { accept: 'text/html' } });
  const html = await res.text();
  if (res.status !== 200) fail(`GET /graphql (accept: text/html) answered ${res.status}`);
  const csp = res.headers.get('content-security-policy');
  if (!csp) fail('GET /graphql has no Content-Security-Policy header');
  step(`GET /graphql: ${res.headers.get('content-type')}; CSP: ${csp}`);
  const directives = Object.fromEntries(
    csp
      .split(';')
      .map((d) => d.trim().split(/\s+/))
      .filter((d) => d[0])
      .map(([name, ...values]) => [name.toLowerCase(), values]),
  );
  if ((directives['script-src'] ?? []).join(' ') !== "'self'") {
    fail(`the CSP's script-src is ${JSON.stringify(directives['script-src'])}, expected exactly 'self'`);
  }
  if (/https?:/.test(csp)) fail(`the CSP names another origin: ${csp}`);
  const inline = [
    [/<script(?![^>]*\bsrc=)[^>]*>/i, 'an inline <script>'],
    [/<style[\s>]/i, 'a <style> element'],
    [/\sstyle\s*=/i, 'a style attribute'],
    [/\son[a-z]+\s*=/i, 'an inline event handler'],
  ];
  for (const [re, what] of inline) if (re.test(html)) fail(`the page's HTML has ${what}: ${html.match(re)[0]}`);
  const title = html.match(/<title>([^<]*)<\/title>/)?.[1];
  if (title !== 'latchkey GraphiQL') fail(`the page's title is ${JSON.stringify(title)}`);
}

// Everything the page does that it must not: other origins, errors, CSP violations.
async function watch(page, origin) {
  const problems = [];
  const foreign = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('response', (r) => {
    if (r.status() >= 400 && r.url().startsWith(`${origin}/`)) {
      problems.push(`HTTP ${r.status()} for ${r.request().method()} ${r.url()}`);
    }
  });
  page.on('requestfailed', (r) => {
    if (r.url().startsWith(`${origin}/`)) problems.push(`request failed: ${r.url()}: ${r.failure()?.errorText}`);
  });
  await page.route('**/*', (route) => {
    const url = route.request().url();
    if (new URL(url).origin === origin) return route.continue();
    foreign.push(url);
    return route.abort('blockedbyclient');
  });
  await page.exposeBinding('__latchkeyCspViolation', (_source, v) =>
    problems.push(
      `CSP violation: ${v.directive} blocked ${v.blocked} (${v.source}:${v.line}:${v.column})` +
        (v.sample ? ` sample ${JSON.stringify(v.sample)}` : ''),
    ),
  );
  await page.addInitScript(() =>
    document.addEventListener('securitypolicyviolation', (e) =>
      window.__latchkeyCspViolation({
        directive: e.effectiveDirective,
        blocked: e.blockedURI,
        source: e.sourceFile,
        line: e.lineNumber,
        column: e.columnNumber,
        sample: e.sample,
      }),
    ),
  );
  return { problems, foreign };
}

const editorValue = (page, sel) => page.$eval(sel, (el) => el.CodeMirror.getValue());

// Replaces an editor's text through the UI: click into it, select all, type.
async function typeInto(page, sel, text) {
  await page.click(sel);
  await page.keyboard.press('ControlOrMeta+A');
  await page.keyboard.insertText(text);
  const got = await editorValue(page, sel);
  if (got !== text) fail(`after typing into ${sel}, the editor holds ${JSON.stringify(got)}, not ${JSON.stringify(text)}`);
  await page.keyboard.press('ControlOrMeta+Home'); // the start in view (a token is long)
}

// Runs the query editor's query with the run button; resolves with the parsed result.
async function runQuery(page) {
  await page.$eval(SEL.result, (el) => el.CodeMirror.setValue(''));
  await page.click(SEL.run);
  await page.waitForFunction((sel) => document.querySelector(sel)?.CodeMirror.getValue().trim().startsWith('{'), SEL.result, {
    timeout: 10_000,
  });
  await sleep(200); // the response editor is written once, but let it settle
  const text = await editorValue(page, SEL.result);
  try {
    return JSON.parse(text);
  } catch {
    fail(`the result pane does not hold JSON: ${text.slice(0, 500)}`);
  }
}

async function checkMe(page, label, headers, userId) {
  await page.click(SEL.headersTab);
  await page.waitForSelector(SEL.headersEditor);
  await typeInto(page, SEL.headersEditor, JSON.stringify(headers, null, 2));
  await typeInto(page, SEL.queryEditor, '{ me { id } }');
  const result = await runQuery(page);
  if (result.errors?.length || result.data?.me?.id !== userId) {
    fail(`${label}: { me { id } } answered ${JSON.stringify(result)}, expected me.id ${userId}`);
  }
  step(`${label}: the result pane shows me.id ${userId}`);
}

async function main() {
  const { origin, outbox } = await startServer({ tmpPrefix: 'latchkey-graphiql-' });
  await checkPageHeaders(origin);

  const gql = makeGql(nodeSender(origin));
  const { userId, accessToken } = await signupVerifyLogin(gql, outbox, { prefix: 'graphiql' });
  const { createApiKey } = await gql(
    'createApiKey',
    'mutation ($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret apiKey { id scopes } } }',
    { input: { name: 'GraphiQL browser test', scopes: ['READ'] } },
    accessToken,
  );
  step(`createApiKey: key ${createApiKey.apiKey.id}, scopes ${createApiKey.apiKey.scopes.join(',')}`);

  const browser = await launchBrowser();
  const context = await browser.newContext({ viewport: DESKTOP });
  const page = await context.newPage();
  const { problems, foreign } = await watch(page, origin);

  const nav = await page.goto(`${origin}/graphql`);
  if (nav?.status() !== 200) fail(`GET ${origin}/graphql answered ${nav?.status()}`);
  if ((await page.title()) !== 'latchkey GraphiQL') fail(`the page's title is ${JSON.stringify(await page.title())}`);
  await page.waitForSelector(SEL.container, { timeout: 15_000 });
  await page.waitForSelector(SEL.queryEditor);
  const defaultQuery = await editorValue(page, SEL.queryEditor);
  for (const want of ['"Authorization": "Bearer <access token>"', '"X-API-Key": "<key>"', 'me {']) {
    if (!defaultQuery.includes(want)) fail(`the default query lacks ${JSON.stringify(want)}:\n${defaultQuery}`);
  }
  step('GraphiQL rendered, with the default query explaining the Headers tab');

  // The docs explorer, from the introspection GraphiQL sent: Query's fields.
  const expected = Object.keys(buildSchema(readFileSync(path.join(repoRoot, 'schema.graphql'), 'utf8')).getQueryType().getFields());
  await page.click(SEL.docsButton);
  await page.waitForSelector(SEL.docExplorer);
  await page.locator(`${SEL.docExplorer} a.graphiql-doc-explorer-type-name`, { hasText: /^Query$/ }).first().click({ timeout: 15_000 });
  await page.waitForSelector(`${SEL.docExplorer} .graphiql-doc-explorer-title:text-is("Query")`);
  await page.waitForSelector(`${SEL.docExplorer} a.graphiql-doc-explorer-field-name`);
  const listed = await page.$$eval(`${SEL.docExplorer} a.graphiql-doc-explorer-field-name`, (as) => as.map((a) => a.textContent.trim()));
  const missing = expected.filter((f) => !listed.includes(f));
  if (missing.length) fail(`the docs explorer's Query lacks ${missing.join(', ')} (it lists ${listed.join(', ')})`);
  for (const f of ['me', 'verifyApiKey']) if (!listed.includes(f)) fail(`the docs explorer's Query lacks ${f}`);
  step(`docs explorer: Query lists ${listed.join(', ')}`);
  if (await page.locator(`${SEL.docExplorer} :text("Loading")`).count()) fail('the docs explorer still says Loading');

  // Both dialogs (their scroll lock is the one stylesheet GraphiQL injects).
  for (const [button, name] of [
    [SEL.settings, 'settings'],
    [SEL.shortKeys, 'short keys'],
  ]) {
    await page.click(button);
    await page.waitForSelector(SEL.dialog);
    if (name === 'settings' && (await page.locator(`${SEL.dialog} :text("Persist headers")`).count())) {
      fail('the settings dialog offers "Persist headers": shouldPersistHeaders should be false');
    }
    await page.keyboard.press('Escape');
    await page.waitForSelector(SEL.dialog, { state: 'detached' });
  }
  step('settings and short-keys dialogs open and close (no "Persist headers" setting)');

  await checkMe(page, 'Authorization: Bearer (typed into the Headers tab)', { Authorization: `Bearer ${accessToken}` }, userId);
  await checkMe(page, 'X-API-Key (typed into the Headers tab)', { 'X-API-Key': createApiKey.secret }, userId);

  // The Bearer token again, for the screenshot (docs explorer on Query, result of me).
  await checkMe(page, 'Authorization: Bearer, again', { Authorization: `Bearer ${accessToken}` }, userId);
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, 'graphiql.png') });
  step(`saved docs/graphiql.png (${DESKTOP.width}x${DESKTOP.height})`);

  // Headers are never stored (GraphiQL writes its tab state debounced, 500 ms).
  await sleep(1_000);
  const stored = await page.evaluate(() => Object.entries(localStorage));
  const leaks = stored.filter(([, v]) => v.includes(accessToken) || v.includes(createApiKey.secret)).map(([k]) => k);
  if (leaks.length) fail(`localStorage holds the token or key under ${leaks.join(', ')}`);
  step(`localStorage (${stored.map(([k]) => k).join(', ')}) holds neither the token nor the key`);

  await page.setViewportSize(PHONE);
  await page.click(SEL.docsHide);
  await page.waitForSelector(SEL.docExplorer, { state: 'detached' });
  // No focus ring or hover in the picture.
  await page.evaluate(() => document.activeElement?.blur());
  await page.mouse.move(PHONE.width - 10, PHONE.height - 10);
  await sleep(300);
  await page.screenshot({ path: path.join(SHOTS, 'graphiql-phone.png') });
  step(`saved docs/graphiql-phone.png (${PHONE.width}x${PHONE.height})`);

  await sleep(300); // late console messages
  if (foreign.length) fail(`the page tried other origins:\n  ${[...new Set(foreign)].join('\n  ')}`);
  if (problems.length) fail(`the page reported:\n  ${problems.join('\n  ')}`);
  step('PASS: GraphiQL from latchkey itself, same origin only, no console error or CSP violation');
}

run(main, { timeoutMs: 120_000 });
