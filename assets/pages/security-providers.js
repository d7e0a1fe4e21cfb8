// /account/security, "Linked sign-in providers": the providers linked to the user
// (linkedProviders), unlinking one (unlinkProvider), and linking another through the
// web flow (social.js startLink: the state kept in this tab's sessionStorage marked as
// a link, { state, mode: "link" }); the callback page then calls linkProvider with
// this browser's access token instead of signing in, and comes back here.
import { gql } from './api.js';
import { config, h, whileBusy } from './forms.js';
import { actionAlert, announce, confirmAction, facts, focusOn, when } from './console.js';
import { PROVIDERS, startLink } from './social.js';

const LIST = 'query { linkedProviders { provider email linkedAt lastLoginAt } }';
const UNLINK = 'mutation ($provider: OAuthProvider!) { unlinkProvider(provider: $provider) }';

const byEnum = (value) => Object.entries(PROVIDERS).find(([, p]) => p.enum === value) || [value.toLowerCase(), { name: value, enum: value }];

let body;
let alert;

function providerItem(linked) {
  const [key, p] = byEnum(linked.provider);
  const itemAlert = actionAlert();
  const unlink = h('button', { type: 'button', class: 'danger-outline compact', 'data-action': 'unlink', 'aria-describedby': `provider-${key}-name` }, 'Unlink');
  unlink.addEventListener('click', async () => {
    itemAlert.say('');
    const ok = await confirmAction({
      title: `Unlink ${p.name}?`,
      body: `You will no longer be able to sign in with ${p.name}. You can link it again later.`,
      confirm: `Unlink ${p.name}`,
    });
    if (!ok) return;
    try {
      await whileBusy(unlink, 'Unlinking…', () => gql(UNLINK, { provider: linked.provider }));
      await load();
      document.dispatchEvent(new CustomEvent('security:changed'));
      announce(`${p.name} was unlinked.`);
      focusOn(document.getElementById('providers-heading'));
    } catch (err) {
      itemAlert.say(err.message);
      focusOn(itemAlert);
    }
  });
  return h(
    'li',
    { class: 'item', 'data-provider': key, 'aria-labelledby': `provider-${key}-name` },
    h(
      'div',
      { class: 'item-head' },
      p.icon ? h('img', { src: `/assets/pages/${p.icon}`, alt: '', width: 20, height: 20 }) : null,
      h('h3', { id: `provider-${key}-name` }, p.name),
    ),
    facts([
      ['Email', linked.email || 'None shared', 'email'],
      ['Linked', when(linked.linkedAt), 'linked'],
      ['Last sign-in', when(linked.lastLoginAt), 'last-login'],
    ]),
    itemAlert,
    h('div', { class: 'item-actions' }, unlink),
  );
}

async function load() {
  const { linkedProviders } = await gql(LIST);
  const linked = new Set(linkedProviders.map((l) => l.provider));
  const configured = (Array.isArray(config().providers) ? config().providers : []).filter((p) => PROVIDERS[p]);
  const linkable = configured.filter((p) => !linked.has(PROVIDERS[p].enum));
  const buttons = linkable.map((provider) => {
    const b = h(
      'button',
      { type: 'button', class: 'secondary', 'data-link': provider },
      h('img', { src: `/assets/pages/${PROVIDERS[provider].icon}`, alt: '', width: 20, height: 20 }),
      `Link ${PROVIDERS[provider].name}`,
    );
    b.addEventListener('click', async () => {
      alert.say('');
      try {
        await whileBusy(b, 'Redirecting…', () => startLink(provider));
      } catch (err) {
        alert.say(err.message);
        focusOn(alert);
      }
    });
    return b;
  });
  body.replaceChildren(
    linkedProviders.length
      ? h('ul', { class: 'items', id: 'linked-providers' }, linkedProviders.map(providerItem))
      : h('p', { class: 'hint', id: 'providers-none' }, 'No provider is linked: you sign in with your password or a passkey.'),
    alert,
    ...(buttons.length ? [h('div', { class: 'link-buttons' }, h('p', { class: 'hint' }, 'Sign in with another account too:'), buttons)] : []),
  );
}

export async function initProviders(container) {
  body = container;
  alert = actionAlert();
  await load();
}
