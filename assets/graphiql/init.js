// Renders GraphiQL (the UMD globals React, ReactDOM, GraphiQL loaded before this file)
// into #graphiql. Served as /assets/graphiql/init.js: the page has no inline script.
'use strict';

(function () {
  var defaultQuery = [
    '# latchkey GraphQL API',
    '#',
    '# To authenticate, put one of these in the Headers tab (below the query), as JSON:',
    '#',
    '#   {"Authorization": "Bearer <access token>"}',
    '#       the accessToken that login, signup or refreshToken answered',
    '#',
    '#   {"X-API-Key": "<key>"}',
    '#       an API key: the secret that createApiKey answered (shown once)',
    '#',
    '# Headers stay in this page: they are not saved in the browser\'s storage.',
    '# Public fields (signup, login, ...) need no header.',
    '# The docs explorer (the book icon, top left) lists every field.',
    '#',
    '# Run with Ctrl-Enter (Cmd-Enter) or the run button.',
    '',
    '{',
    '  me {',
    '    id',
    '    email',
    '  }',
    '}',
    '',
  ].join('\n');

  // GraphiQL's storage (localStorage, keys "graphiql:..."), minus every header value.
  // shouldPersistHeaders: false keeps headers out of the editor's and the tabs' state, but
  // GraphiQL 4's history plugin still saves each run's headers with the query
  // ("graphiql:queries", "graphiql:favorites"): dropped here, on the way in and out.
  var PREFIX = 'graphiql:';

  function withoutHeaders(key, value) {
    if (value === null || value === undefined) return null;
    if (key === PREFIX + 'headers') return null;
    var parsed;
    try {
      parsed = JSON.parse(value);
    } catch (e) {
      return value; // not JSON (a query, say): no headers in it
    }
    if (parsed === null || typeof parsed !== 'object') return value;
    var dropped = false;
    var kept = JSON.stringify(parsed, function (k, v) {
      if (k === 'headers' && v !== null && v !== undefined) {
        dropped = true;
        return undefined;
      }
      return v;
    });
    return dropped ? kept : value;
  }

  function ownKeys() {
    var keys = [];
    for (var i = 0; i < localStorage.length; i++) {
      var k = localStorage.key(i);
      if (k !== null && k.indexOf(PREFIX) === 0) keys.push(k);
    }
    return keys;
  }

  var storage = {
    getItem: function (key) {
      return withoutHeaders(key, localStorage.getItem(key));
    },
    setItem: function (key, value) {
      var kept = withoutHeaders(key, value);
      if (kept === null) localStorage.removeItem(key);
      else localStorage.setItem(key, kept);
    },
    removeItem: function (key) {
      localStorage.removeItem(key);
    },
    clear: function () {
      ownKeys().forEach(function (k) {
        localStorage.removeItem(k);
      });
    },
    get length() {
      return ownKeys().length;
    },
  };

  // What an earlier page may have left: rewritten without headers.
  ownKeys().forEach(function (k) {
    var v = localStorage.getItem(k);
    if (withoutHeaders(k, v) !== v) storage.setItem(k, v);
  });

  var fetcher = GraphiQL.createFetcher({ url: '/graphql' });

  ReactDOM.createRoot(document.getElementById('graphiql')).render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: defaultQuery,
      isHeadersEditorEnabled: true,
      defaultEditorToolsVisibility: 'headers',
      // Tokens and keys typed in the Headers tab never go to localStorage (this also
      // hides GraphiQL's "persist headers" setting); see storage above for the history.
      shouldPersistHeaders: false,
      storage: storage,
    }),
  );
})();
