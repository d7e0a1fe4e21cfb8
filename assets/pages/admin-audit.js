// /admin, "Audit log": every security event (auditLog), newest first, by user and by
// event type, with "Load more" while the API gives a nextCursor.
import { gql } from './api.js';
import { $, clearErrors, h, whileBusy } from './forms.js';
import { announce, focusOn, showFormError } from './console.js';
import { EVENT_FIELDS, EVENT_LABELS, eventRow } from './events.js';

const PAGE_SIZE = 20;
const LIST = `query ($userId: ID, $type: String, $after: String, $limit: Int) {
  auditLog(userId: $userId, type: $type, after: $after, limit: $limit) { nextCursor items { ${EVENT_FIELDS} } }
}`;

let filter = { userId: null, type: null };
let cursor = null;
let form;

async function fetchPage(after) {
  const { auditLog } = await gql(LIST, { ...filter, after, limit: PAGE_SIZE });
  cursor = auditLog.nextCursor;
  $('#audit-more').hidden = !cursor;
  return auditLog.items;
}

function summary(count) {
  const parts = [];
  if (filter.type) parts.push(`of type ${filter.type}`);
  if (filter.userId) parts.push(`of user ${filter.userId}`);
  const what = parts.length ? ` ${parts.join(' ')}` : '';
  $('#audit-summary').textContent = count ? `Events${what}, newest first.` : `No events${what}.`;
}

async function reload() {
  const items = await fetchPage(null);
  $('#audit').replaceChildren(...items.map(eventRow));
  $('#audit-table').hidden = items.length === 0;
  summary(items.length);
}

async function apply(button) {
  clearErrors(form);
  filter = { userId: $('#audit-user').value.trim() || null, type: $('#audit-type').value || null };
  try {
    await whileBusy(button, 'Loading…', reload);
  } catch (err) {
    showFormError(form, err, [
      [/user/i, $('#audit-user')],
      [/type|event/i, $('#audit-type')],
    ]);
  }
}

/** Shows the events of user `u` (from the users list) and moves there. */
export async function showUserEvents(u) {
  $('#audit-user').value = u.id;
  $('#audit-type').value = '';
  await apply($('#audit-apply'));
  focusOn($('#audit-heading'));
  $('#audit-heading').scrollIntoView({ block: 'start' });
}

export async function initAudit() {
  form = $('#audit-filter');
  $('#audit-type').replaceChildren(
    h('option', { value: '' }, 'All types'),
    ...Object.entries(EVENT_LABELS).map(([type, label]) => h('option', { value: type }, `${label} (${type})`)),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    apply($('#audit-apply'));
  });
  $('#audit-clear').addEventListener('click', () => {
    form.reset();
    apply($('#audit-clear'));
  });
  const more = $('#audit-more');
  more.addEventListener('click', async () => {
    clearErrors(form);
    try {
      const items = await whileBusy(more, 'Loading…', () => fetchPage(cursor));
      const nodes = items.map(eventRow);
      $('#audit').append(...nodes);
      announce(`${items.length} more ${items.length === 1 ? 'event' : 'events'} shown.`);
      if (nodes[0]) focusOn(nodes[0]);
    } catch (err) {
      showFormError(form, err);
    }
  });
  await reload();
}
