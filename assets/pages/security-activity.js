// /account/security, "Recent security activity": the user's own security events
// (myActivity), newest first, with "Load more" while the API gives a nextCursor.
import { gql } from './api.js';
import { h, whileBusy } from './forms.js';
import { actionAlert, announce, focusOn } from './console.js';
import { EVENT_FIELDS, eventItem } from './events.js';

const PAGE_SIZE = 10;
const LIST = `query ($after: String, $limit: Int) { myActivity(after: $after, limit: $limit) { nextCursor items { ${EVENT_FIELDS} } } }`;

let list;
let more;
let alert;
let cursor = null;

async function fetchPage(after) {
  const { myActivity } = await gql(LIST, { after, limit: PAGE_SIZE });
  cursor = myActivity.nextCursor;
  more.hidden = !cursor;
  return myActivity.items;
}

async function reload() {
  const items = await fetchPage(null);
  list.replaceChildren(...items.map((e) => eventItem(e)));
  document.getElementById('activity-none').hidden = items.length > 0;
}

export async function initActivity(container) {
  list = h('ol', { class: 'events', id: 'activity' });
  alert = actionAlert();
  more = h('button', { type: 'button', class: 'secondary', id: 'activity-more', hidden: true }, 'Load more');
  more.addEventListener('click', async () => {
    alert.say('');
    try {
      const items = await whileBusy(more, 'Loading…', () => fetchPage(cursor));
      const nodes = items.map((e) => eventItem(e));
      list.append(...nodes);
      announce(`${items.length} more ${items.length === 1 ? 'event' : 'events'} shown.`);
      // Keep the keyboard where the new rows start (the button may have gone).
      if (nodes[0]) focusOn(nodes[0]);
    } catch (err) {
      alert.say(err.message);
      focusOn(alert);
    }
  });
  container.replaceChildren(
    h('p', { class: 'hint' }, 'Sign-ins, changes to your account and its keys. Something you do not recognise? Change your password and sign out everywhere else.'),
    h('p', { class: 'hint', id: 'activity-none', hidden: true }, 'Nothing yet.'),
    list,
    alert,
    more,
  );
  await reload();
  document.addEventListener('security:changed', () => reload().catch((err) => alert.say(err.message)));
}
