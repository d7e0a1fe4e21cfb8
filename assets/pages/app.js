// The pages' entry point: <body data-page="..."> names the page; its module does the rest.
document.documentElement.classList.remove('no-js');

const PAGES = {
  login: () => import('./login.js'),
  signup: () => import('./signup.js'),
  'forgot-password': () => import('./forgot-password.js'),
  'reset-password': () => import('./reset-password.js'),
  'verify-email': () => import('./verify-email.js'),
  'oauth-callback': () => import('./oauth-callback.js'),
  account: () => import('./account.js'),
  'account-keys': () => import('./account-keys.js'),
  'account-security': () => import('./account-security.js'),
  'account-tenant': () => import('./account-tenant.js'),
  'accept-invite': () => import('./accept-invite.js'),
  admin: () => import('./admin.js'),
};

const page = document.body.dataset.page;
const load = PAGES[page];
if (load) {
  load()
    .then((m) => m.init())
    .catch((err) => {
      console.error(`page ${page}:`, err);
      const main = document.getElementById('main');
      const p = document.createElement('p');
      p.className = 'alert';
      p.setAttribute('role', 'alert');
      p.textContent = 'This page could not start. Reload it; if that does not help, try again later.';
      main?.prepend(p);
    });
}
