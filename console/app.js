/* global document, window, location, history, sessionStorage, fetch, crypto, URL, URLSearchParams, TextEncoder, TextDecoder, btoa, atob, setTimeout, clearTimeout */
/**
 * The operators' console: tenants, their operations, deployments and backups, through the
 * control-plane REST API. Plain ES module, no build step. Everything shown is set as text
 * (never innerHTML); only http(s) URLs become links.
 */

const POLL_MS = 1000;
/** sessionStorage keys: the sign-in lives as long as the tab, never in localStorage. */
const KEYS = {
  verifier: 'hostplane.pkce.verifier',
  state: 'hostplane.pkce.state',
  returnTo: 'hostplane.returnTo',
  idToken: 'hostplane.idToken',
  expiresAt: 'hostplane.expiresAt',
};
const TRANSITIONAL = new Set(['REQUESTED', 'PROVISIONING', 'DEPROVISIONING']);

let config;
/** A message for the next view shown (a failed sign-in), then cleared. */
let notice;
/** Bumped on each render: a poll or an answer for an older view is dropped. */
let viewSeq = 0;
let pollTimer;

// ---------- small DOM helpers: text only ----------

/** An element with attributes and children; strings become text nodes. */
function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) element.addEventListener(name.slice(2), value);
    else if (name === 'href') element.setAttribute('href', safeHref(value));
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof window.Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/** In-page routes (`#/…`) and http(s) URLs only: a `javascript:` URL from the API never becomes a link. */
function safeHref(value) {
  const text = String(value);
  if (text.startsWith('#/')) return text;
  try {
    const url = new URL(text);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : '#/';
  } catch {
    return '#/';
  }
}

function show(...children) {
  document.getElementById('view').replaceChildren(...children);
}

function alertBox(message) {
  return h('p', { role: 'alert' }, message);
}

function when(value) {
  if (!value) return '';
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? String(value) : date.toLocaleString();
}

function status(value) {
  return h('span', { class: `status-${String(value).replace(/[^A-Z_]/g, '')}` }, value ?? '');
}

function table(headings, rows, empty) {
  if (rows.length === 0) return h('p', { class: 'muted' }, empty);
  return h('table', {}, h('thead', {}, h('tr', {}, headings.map((text) => h('th', { scope: 'col' }, text)))), h('tbody', {}, rows));
}

function bytes(n) {
  if (typeof n !== 'number') return '';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

// ---------- configuration and the API ----------

/** `config.json` beside the page: `{ apiUrl, auth: null | { domain, clientId, redirectUri } }`. */
async function loadConfig() {
  const response = await fetch('./config.json', { cache: 'no-store' });
  if (!response.ok) throw new Error(`config.json could not be read (${response.status})`);
  const raw = await response.json();
  if (typeof raw?.apiUrl !== 'string' || !raw.apiUrl) throw new Error('config.json has no apiUrl');
  const auth = raw.auth ?? null;
  if (auth !== null && !['domain', 'clientId', 'redirectUri'].every((key) => typeof auth[key] === 'string' && auth[key])) {
    throw new Error('config.json: auth needs domain, clientId and redirectUri');
  }
  return {
    apiUrl: raw.apiUrl.replace(/\/+$/, ''),
    auth: auth && { ...auth, domain: (/^https:\/\//.test(auth.domain) ? auth.domain : `https://${auth.domain}`).replace(/\/+$/, '') },
  };
}

class ApiError extends Error {
  constructor(message, statusCode, body) {
    super(message);
    this.statusCode = statusCode;
    this.body = body;
  }
}

/** What the API said went wrong, plainly: its message, and each problem or refusal on a line. */
function describeError(body, statusCode) {
  const lines = [typeof body?.message === 'string' && body.message ? body.message : `the API answered ${statusCode}`];
  for (const list of [body?.problems, body?.refused]) {
    if (Array.isArray(list)) lines.push(...list.map(String));
  }
  if (typeof body?.operationId === 'string') lines.push(`running operation: ${body.operationId}`);
  return lines.join('\n');
}

/** Calls the API as the signed-in operator; a non-2xx answer throws an ApiError carrying the API's message. */
async function api(method, path, body) {
  const headers = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (config.auth) {
    const token = currentIdToken();
    if (!token) {
      renderSignedOut('Your session has ended: sign in again.');
      throw new ApiError('not signed in', 401, {});
    }
    // API Gateway's Cognito authorizer (no scopes on the methods) takes the id token as it is.
    headers.authorization = token;
  }
  let response;
  try {
    response = await fetch(`${config.apiUrl}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError('the API could not be reached', 0, {});
  }
  const text = await response.text();
  let data;
  try {
    data = text ? JSON.parse(text) : {};
  } catch {
    data = { message: `the API answered ${response.status} with something that is not JSON` };
  }
  if (response.status === 401 && config.auth) {
    forgetSession();
    renderSignedOut('Your session has ended: sign in again.');
  }
  if (!response.ok) throw new ApiError(describeError(data, response.status), response.status, data);
  return data;
}

const enc = encodeURIComponent;

// ---------- sign-in: authorization code with PKCE (S256) ----------

function base64url(byteArray) {
  let binary = '';
  for (const byte of byteArray) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function randomToken() {
  return base64url(crypto.getRandomValues(new Uint8Array(32)));
}

async function s256(text) {
  return base64url(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text))));
}

/** Goes to the Cognito hosted UI; the verifier stays in this tab's sessionStorage, only its hash leaves. */
async function signIn() {
  const { domain, clientId, redirectUri } = config.auth;
  const verifier = randomToken();
  const state = randomToken();
  sessionStorage.setItem(KEYS.verifier, verifier);
  sessionStorage.setItem(KEYS.state, state);
  sessionStorage.setItem(KEYS.returnTo, location.hash || '#/');
  const query = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: redirectUri,
    scope: 'openid email',
    state,
    code_challenge: await s256(verifier),
    code_challenge_method: 'S256',
  });
  location.assign(`${domain}/oauth2/authorize?${query}`);
}

/** Back from the hosted UI with `?code&state`: checks the state, redeems the code with the verifier. */
async function completeSignIn() {
  const params = new URLSearchParams(location.search);
  if (!params.has('code') && !params.has('error')) return undefined;
  const expectedState = sessionStorage.getItem(KEYS.state);
  const verifier = sessionStorage.getItem(KEYS.verifier);
  const returnTo = sessionStorage.getItem(KEYS.returnTo) || '#/';
  sessionStorage.removeItem(KEYS.state);
  sessionStorage.removeItem(KEYS.verifier);
  sessionStorage.removeItem(KEYS.returnTo);
  // The code leaves the address bar (and the history) whatever happens next.
  history.replaceState(null, '', `${location.pathname}${returnTo}`);
  if (params.has('error')) return `Sign-in failed: ${params.get('error_description') || params.get('error')}`;
  if (!expectedState || params.get('state') !== expectedState || !verifier) return 'Sign-in failed: the answer does not match a sign-in started here. Try again.';

  const { domain, clientId, redirectUri } = config.auth;
  let response;
  try {
    response = await fetch(`${domain}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', client_id: clientId, code: params.get('code'), redirect_uri: redirectUri, code_verifier: verifier }),
    });
  } catch {
    return 'Sign-in failed: the sign-in service could not be reached.';
  }
  const tokens = await response.json().catch(() => ({}));
  if (!response.ok || typeof tokens.id_token !== 'string') return `Sign-in failed: ${tokens.error_description || tokens.error || response.status}`;
  sessionStorage.setItem(KEYS.idToken, tokens.id_token);
  sessionStorage.setItem(KEYS.expiresAt, String(Date.now() + (Number(tokens.expires_in) || 3600) * 1000));
  return undefined;
}

function currentIdToken() {
  const token = sessionStorage.getItem(KEYS.idToken);
  const expiresAt = Number(sessionStorage.getItem(KEYS.expiresAt));
  if (!token || !(expiresAt > Date.now() + 5000)) return undefined;
  return token;
}

/** The id token's claims, for showing who is signed in (the API checks the signature, not this page). */
function claims(token) {
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const binary = atob(part.padEnd(Math.ceil(part.length / 4) * 4, '='));
    return JSON.parse(new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0))));
  } catch {
    return {};
  }
}

function forgetSession() {
  for (const key of Object.values(KEYS)) sessionStorage.removeItem(key);
}

/** Forgets the tokens, then ends the hosted UI's session and comes back to the console. */
function signOut() {
  forgetSession();
  const { domain, clientId, redirectUri } = config.auth;
  location.assign(`${domain}/logout?${new URLSearchParams({ client_id: clientId, logout_uri: redirectUri })}`);
}

function renderSession() {
  const slot = document.getElementById('session');
  const token = config.auth ? currentIdToken() : undefined;
  if (!token) {
    slot.replaceChildren(config.auth ? '' : h('span', { class: 'muted' }, 'local'));
    return;
  }
  const who = claims(token);
  slot.replaceChildren(h('span', {}, who.email || who['cognito:username'] || 'signed in'), h('button', { type: 'button', onclick: signOut }, 'Sign out'));
}

function renderSignedOut(message) {
  viewSeq += 1;
  clearTimeout(pollTimer);
  renderSession();
  show(
    h('h2', {}, 'Sign in'),
    message ? alertBox(message) : null,
    h('p', {}, 'Operators sign in with their Hostplane account.'),
    h('button', { type: 'button', onclick: () => void signIn() }, 'Sign in'),
  );
}

// ---------- polling ----------

/** Runs `load` now and every second while `again(result)` holds and the view is still shown. */
function pollWhile(seq, load, again) {
  const tick = async () => {
    if (seq !== viewSeq) return;
    let result;
    try {
      result = await load();
    } catch (error) {
      if (seq !== viewSeq) return;
      showError(error);
      // The API unreachable or unwell for a moment: keep watching; any other refusal ends it.
      if (error instanceof ApiError && (error.statusCode === 0 || error.statusCode >= 500)) pollTimer = setTimeout(tick, POLL_MS);
      return;
    }
    if (seq !== viewSeq) return;
    document.getElementById('view-error')?.replaceChildren();
    if (again(result)) pollTimer = setTimeout(tick, POLL_MS);
  };
  return tick();
}

function showError(error) {
  if (error instanceof ApiError && error.statusCode === 401 && config.auth) return;
  const slot = document.getElementById('view-error');
  const message = error instanceof ApiError ? error.message : 'Something went wrong in this page; reload it.';
  if (slot) slot.replaceChildren(alertBox(message));
  else show(alertBox(message));
}

// ---------- views ----------

function renderTenants(seq) {
  const list = h('div', {}, h('p', { class: 'muted' }, 'Loading tenants…'));
  const formError = h('div', {});
  const tenantId = h('input', { name: 'tenantId', required: true, autocomplete: 'off', spellcheck: 'false' });
  const tier = h('select', { name: 'tier' }, h('option', { value: 'pooled' }, 'pooled'), h('option', { value: 'dedicated' }, 'dedicated'));
  const displayName = h('input', { name: 'displayName', autocomplete: 'off' });
  const create = h(
    'form',
    {
      'aria-label': 'Create a tenant',
      onsubmit: async (event) => {
        event.preventDefault();
        formError.replaceChildren();
        const body = { tenantId: tenantId.value.trim(), tier: tier.value };
        if (displayName.value.trim()) body.displayName = displayName.value.trim();
        try {
          const operation = await api('POST', '/tenants', body);
          location.hash = `#/operations/${enc(operation.operationId)}`;
        } catch (error) {
          if (seq === viewSeq) formError.replaceChildren(alertBox(error instanceof ApiError ? error.message : 'The request could not be sent.'));
        }
      },
    },
    h('label', {}, 'Tenant id', tenantId),
    h('label', {}, 'Tier', tier),
    h('label', {}, 'Display name', displayName),
    h('button', { type: 'submit' }, 'Create tenant'),
  );
  const deleting = h('div', {});
  show(h('h2', {}, 'Tenants'), h('div', { id: 'view-error' }), list, deleting, h('h3', {}, 'New tenant'), create, formError);

  const askDelete = (id) => {
    const typed = h('input', { name: 'confirmTenantId', autocomplete: 'off', spellcheck: 'false' });
    const problem = h('div', {});
    deleting.replaceChildren(
      h('h3', {}, `Delete ${id}`),
      h('p', {}, `This takes a final backup, then removes every resource of ${id}. Type the tenant id again to confirm.`),
      h(
        'form',
        {
          'aria-label': `Delete ${id}`,
          onsubmit: async (event) => {
            event.preventDefault();
            if (typed.value.trim() !== id) {
              problem.replaceChildren(alertBox(`The id typed does not match ${id}: nothing was deleted.`));
              return;
            }
            try {
              const operation = await api('DELETE', `/tenants/${enc(id)}`);
              location.hash = `#/operations/${enc(operation.operationId)}`;
            } catch (error) {
              if (seq === viewSeq) problem.replaceChildren(alertBox(error instanceof ApiError ? error.message : 'The request could not be sent.'));
            }
          },
        },
        h('label', {}, 'Tenant id to delete', typed),
        h('button', { type: 'submit' }, 'Delete tenant'),
        h('button', { type: 'button', onclick: () => deleting.replaceChildren() }, 'Cancel'),
      ),
      problem,
    );
    typed.focus();
  };

  return pollWhile(
    seq,
    async () => {
      const { items = [] } = await api('GET', '/tenants');
      if (seq !== viewSeq) return items;
      const rows = items.map((tenant) =>
        h(
          'tr',
          {},
          h('td', {}, h('a', { href: `#/tenants/${enc(tenant.tenantId)}` }, tenant.tenantId)),
          h('td', {}, tenant.displayName ?? ''),
          h('td', {}, tenant.tier ?? ''),
          h('td', {}, status(tenant.status)),
          h('td', {}, tenant.url ? h('a', { href: tenant.url, rel: 'noopener noreferrer', target: '_blank' }, tenant.url) : ''),
          h('td', {}, tenant.version ?? ''),
          h('td', {}, when(tenant.createdAt)),
          h('td', {}, h('button', { type: 'button', onclick: () => askDelete(tenant.tenantId) }, 'Delete')),
        ),
      );
      list.replaceChildren(table(['Tenant', 'Name', 'Tier', 'Status', 'URL', 'Version', 'Created', ''], rows, 'No tenants yet.'));
      return items;
    },
    (items) => items.some((tenant) => TRANSITIONAL.has(tenant.status)),
  );
}

function renderTenant(seq, tenantId) {
  const details = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  const operations = h('div', {});
  const deployments = h('div', {});
  const backups = h('div', {});
  const backupNotice = h('div', {});
  const backupButton = h(
    'button',
    {
      type: 'button',
      onclick: async () => {
        backupButton.disabled = true;
        backupNotice.replaceChildren(h('p', { class: 'muted' }, 'Starting the backup…'));
        try {
          // A backup is an operation: follow it on its page (its result names the backup).
          const operation = await api('POST', `/tenants/${enc(tenantId)}/backups`);
          location.hash = `#/operations/${enc(operation.operationId)}`;
        } catch (error) {
          backupNotice.replaceChildren(alertBox(error instanceof ApiError ? error.message : 'The request could not be sent.'));
        } finally {
          backupButton.disabled = false;
        }
      },
    },
    'Back up now',
  );
  show(
    h('p', {}, h('a', { href: '#/' }, '← Tenants')),
    h('h2', {}, `Tenant ${tenantId}`),
    h('div', { id: 'view-error' }),
    details,
    h('h3', {}, 'Operations'),
    operations,
    h('h3', {}, 'Deployments'),
    deployments,
    h('h3', {}, 'Backups'),
    backupButton,
    backupNotice,
    backups,
  );

  /** An export is an operation: its page shows the download link once the archive is written. */
  async function startExport(backupId) {
    try {
      const operation = await api('POST', `/tenants/${enc(tenantId)}/backups/${enc(backupId)}/export`);
      location.hash = `#/operations/${enc(operation.operationId)}`;
    } catch (error) {
      backupNotice.replaceChildren(alertBox(error instanceof ApiError ? error.message : 'The request could not be sent.'));
    }
  }

  async function loadBackups() {
    const { items = [] } = await api('GET', `/tenants/${enc(tenantId)}/backups`);
    if (seq !== viewSeq) return;
    backups.replaceChildren(
      table(
        ['Backup', 'Reason', 'App', 'Rows', 'Size', 'Taken', 'Kept until', ''],
        items.map((b) =>
          h(
            'tr',
            {},
            h('td', {}, b.backupId),
            h('td', {}, b.reason ?? ''),
            h('td', {}, b.app ?? ''),
            h('td', {}, b.rows ?? ''),
            h('td', {}, bytes(b.bytes)),
            h('td', {}, when(b.createdAt)),
            h('td', {}, when(b.expiresAt)),
            h('td', {}, h('button', { type: 'button', onclick: () => startExport(b.backupId) }, 'Export')),
          ),
        ),
        'No backups yet.',
      ),
    );
  }

  return pollWhile(
    seq,
    async () => {
      const [tenant, deploys] = await Promise.all([api('GET', `/tenants/${enc(tenantId)}`), api('GET', `/tenants/${enc(tenantId)}/deployments`)]);
      if (seq !== viewSeq) return tenant;
      const fields = [
        ['Status', status(tenant.status)],
        ['Display name', tenant.displayName],
        ['Tier', tenant.tier],
        ['Cell', tenant.cell],
        ['URL', tenant.url ? h('a', { href: tenant.url, rel: 'noopener noreferrer', target: '_blank' }, tenant.url) : ''],
        ['Version', tenant.version],
        ['Last error', tenant.lastError],
        ['Created', when(tenant.createdAt)],
        ['Updated', when(tenant.updatedAt)],
      ];
      details.replaceChildren(h('dl', {}, fields.flatMap(([name, value]) => [h('dt', {}, name), h('dd', {}, value ?? '')])));
      operations.replaceChildren(
        table(
          ['Operation', 'Kind', 'Status', 'State', 'By', 'Started', 'Ended'],
          (tenant.operations ?? []).map((op) =>
            h(
              'tr',
              {},
              h('td', {}, h('a', { href: `#/operations/${enc(op.operationId)}` }, op.operationId)),
              h('td', {}, op.kind),
              h('td', {}, status(op.status)),
              h('td', {}, op.currentState ?? ''),
              h('td', {}, op.requestedBy ?? ''),
              h('td', {}, when(op.startedAt)),
              h('td', {}, when(op.endedAt)),
            ),
          ),
          'No operations.',
        ),
      );
      deployments.replaceChildren(
        table(
          ['Deployment', 'Kind', 'Status', 'Release', 'App', 'Started', 'Error'],
          (deploys.items ?? []).map((d) =>
            h(
              'tr',
              {},
              h('td', {}, h('a', { href: `#/operations/${enc(d.operationId)}` }, d.deploymentId)),
              h('td', {}, d.kind),
              h('td', {}, status(d.status)),
              h('td', {}, d.releaseId ?? ''),
              h('td', {}, d.app ?? ''),
              h('td', {}, when(d.startedAt)),
              h('td', {}, d.error ?? ''),
            ),
          ),
          'No deployments.',
        ),
      );
      if (!backups.hasChildNodes()) await loadBackups();
      return tenant;
    },
    (tenant) => TRANSITIONAL.has(tenant.status) || (tenant.operations ?? []).some((op) => op.status === 'RUNNING'),
  );
}

/** An export's link (a presigned URL, or the local API's signed one), shown only when it is http(s). */
function downloadLink(download) {
  if (!download || typeof download.url !== 'string' || !/^https?:\/\//.test(download.url)) return null;
  return h('p', {}, h('a', { href: download.url, 'data-testid': 'export-download', rel: 'noopener noreferrer' }, 'Download the export (.tar.gz)'), h('span', { class: 'muted' }, ` — the link works until ${when(download.expiresAt)}; reload for a new one`));
}

function renderOperation(seq, operationId) {
  const summary = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  const states = h('ol', { 'aria-label': 'States' });
  const back = h('p', {}, h('a', { href: '#/' }, '← Tenants'));
  show(back, h('h2', {}, `Operation ${operationId}`), h('div', { id: 'view-error' }), summary, h('h3', {}, 'States'), states);

  return pollWhile(
    seq,
    async () => {
      const op = await api('GET', `/operations/${enc(operationId)}`);
      if (seq !== viewSeq) return op;
      back.replaceChildren(h('a', { href: '#/' }, '← Tenants'), ' · ', h('a', { href: `#/tenants/${enc(op.tenantId)}` }, `Tenant ${op.tenantId}`));
      summary.replaceChildren(
        h('p', {}, `${op.kind} of ${op.tenantId}, requested by ${op.requestedBy ?? 'unknown'} at ${when(op.startedAt)}`),
        h('p', {}, 'Status: ', h('strong', { 'data-testid': 'operation-status' }, status(op.status)), op.currentState && op.status === 'RUNNING' ? ` — now ${op.currentState}` : ''),
        op.error ? alertBox(op.error) : null,
        op.result && op.result.backupId ? h('p', {}, `Backup: ${op.result.backupId}`) : null,
        downloadLink(op.download),
      );
      states.replaceChildren(
        ...(op.states ?? []).map((step) =>
          h(
            'li',
            {},
            h('strong', {}, step.state),
            ' ',
            status(step.status),
            step.detail ? h('span', { class: 'muted' }, ` — ${step.detail}`) : '',
            step.error ? h('div', { role: 'alert' }, step.error) : '',
          ),
        ),
      );
      return op;
    },
    (op) => op.status === 'RUNNING',
  );
}

/** Shows the view the address's hash names: `#/`, `#/tenants/<id>`, `#/operations/<id>`. */
function render() {
  viewSeq += 1;
  clearTimeout(pollTimer);
  const seq = viewSeq;
  renderSession();
  document.getElementById('notice').replaceChildren(...(notice ? [alertBox(notice)] : []));
  notice = undefined;
  if (config.auth && !currentIdToken()) {
    renderSignedOut();
    return;
  }
  const path = location.hash.replace(/^#/, '') || '/';
  const [, section, id] = path.split('/').map((part) => {
    try {
      return decodeURIComponent(part);
    } catch {
      return part;
    }
  });
  if (section === 'tenants' && id) void renderTenant(seq, id);
  else if (section === 'operations' && id) void renderOperation(seq, id);
  else void renderTenants(seq);
}

async function main() {
  try {
    config = await loadConfig();
  } catch (error) {
    show(alertBox(`The console is not configured: ${error.message}`));
    return;
  }
  if (config.auth) notice = await completeSignIn();
  window.addEventListener('hashchange', render);
  render();
}

void main();
