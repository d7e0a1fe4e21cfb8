// Shared form and DOM helpers: field errors linked by aria-describedby, one alert per
// form (role="alert"), focus on the first error, busy buttons, panels, password toggles.
// No inline styles anywhere (CSP style-src 'self'): only classes and `hidden`.

/** The page's settings, from <body data-config>. */
export function config() {
  try {
    return JSON.parse(document.body.dataset.config || '{}') || {};
  } catch {
    return {};
  }
}

/** A `?next=` path of this site ("/..." but not "//..." or "/\..."), else null. */
export function safeNext(raw = new URLSearchParams(location.search).get('next')) {
  if (typeof raw !== 'string' || !raw.startsWith('/') || raw.startsWith('//') || raw.startsWith('/\\')) return null;
  if (/[\u0000-\u001f\\]/.test(raw)) return null;
  return raw;
}

/** Where to go once signed in: the safe `next`, else config.appUrl, else /account. */
export function destination(next = safeNext()) {
  return next || config().appUrl || '/account';
}

/** Creates an element: h('a', { href: '/x', class: 'button' }, 'text', child). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v === null || v === undefined) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const $ = (sel, root = document) => root.querySelector(sel);
export { $ };

function errorElementFor(input) {
  const id = `${input.id}-error`;
  let el = document.getElementById(id);
  if (!el) {
    el = h('p', { id, class: 'field-error' });
    const field = input.closest('.field');
    if (field) field.append(el);
    else input.after(el);
  }
  const described = (input.getAttribute('aria-describedby') || '').split(/\s+/).filter(Boolean);
  if (!described.includes(id)) input.setAttribute('aria-describedby', [...described, id].join(' '));
  return el;
}

/** Shows `message` under the field and marks it invalid. */
export function setFieldError(input, message) {
  errorElementFor(input).textContent = message;
  input.setAttribute('aria-invalid', 'true');
}

/** The form's alert (role="alert"): `[data-alert]` inside it, or the page's #page-alert. */
function alertOf(form) {
  return (form && $('[data-alert]', form)) || document.getElementById('page-alert');
}

export function setAlert(form, message) {
  const el = alertOf(form);
  if (el) {
    el.textContent = message;
    el.hidden = false;
  }
  return el;
}

/** Clears every error of the form (and the page alert). */
export function clearErrors(form) {
  for (const input of form.querySelectorAll('[aria-invalid="true"]')) input.removeAttribute('aria-invalid');
  for (const el of form.querySelectorAll('.field-error')) el.textContent = '';
  for (const el of [alertOf(form), document.getElementById('page-alert')]) {
    if (el) {
      el.textContent = '';
      el.hidden = true;
    }
  }
}

/** Moves focus to the first invalid field, else to the alert. */
export function focusFirstError(form) {
  const bad = form.querySelector('[aria-invalid="true"]');
  if (bad) {
    bad.focus();
    return;
  }
  const alert = alertOf(form);
  if (alert && !alert.hidden) {
    if (!alert.hasAttribute('tabindex')) alert.setAttribute('tabindex', '-1');
    alert.focus();
  }
}

/**
 * Puts an API error next to the field it is about: `rules` is [[RegExp, input], ...],
 * tried in order on the message; errors not about the input (rate limits, the network,
 * the server) go to the form's alert. Then focuses it.
 */
export function showError(form, err, rules = []) {
  const message = err?.message || 'Something went wrong. Try again.';
  const aboutInput = !['NETWORK', 'HTTP', 'RATE_LIMITED', 'INTERNAL_SERVER_ERROR'].includes(err?.code);
  const rule = aboutInput && rules.find(([re, input]) => input && !input.closest('[hidden]') && re.test(message));
  if (rule) setFieldError(rule[1], message);
  else setAlert(form, message);
  focusFirstError(form);
}

/** Checks that each required input has a value; marks the empty ones. True when all do. */
export function requireFilled(form, messages) {
  let ok = true;
  for (const [input, message] of messages) {
    if (!input.value.trim()) {
      setFieldError(input, message);
      ok = false;
    }
  }
  if (!ok) focusFirstError(form);
  return ok;
}

/** Disables a button while `work` runs, with a busy label; resolves with work's result. */
export async function whileBusy(button, busyLabel, work) {
  const label = button.textContent;
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  button.textContent = busyLabel;
  try {
    return await work();
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
    button.textContent = label;
  }
}

/** Shows one panel (by id) of a group, hides the others, and focuses its heading. */
export function showPanel(id, group = '[data-panel]') {
  let shown = null;
  for (const el of document.querySelectorAll(group)) {
    el.hidden = el.id !== id;
    if (el.id === id) shown = el;
  }
  const heading = shown?.querySelector('h1, h2');
  if (heading) {
    heading.setAttribute('tabindex', '-1');
    heading.focus();
  }
  return shown;
}

/** The "Show" buttons next to password inputs (`[data-toggle-password="<input id>"]`). */
export function wirePasswordToggles(root = document) {
  for (const button of root.querySelectorAll('[data-toggle-password]')) {
    const input = document.getElementById(button.dataset.togglePassword);
    if (!input) continue;
    button.setAttribute('aria-controls', input.id);
    button.addEventListener('click', () => {
      const show = input.type === 'password';
      input.type = show ? 'text' : 'password';
      button.textContent = show ? 'Hide' : 'Show';
      button.setAttribute('aria-label', show ? 'Hide password' : 'Show password');
    });
  }
}

/** Replaces an element's contents with a status line (role="status") and a spinner. */
export function setStatus(el, text) {
  el.replaceChildren(h('div', { class: 'status', role: 'status' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), text));
}
