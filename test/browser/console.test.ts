/**
 * The operators' console (console/), served by the local API server at /console/ and driven in
 * Debian's Chromium through playwright-core, as an operator would: a refusal, a tenant created and
 * watched to the end, a backup, a delete confirmed by typing the id; then the cloud's sign-in
 * (authorization code with PKCE) against a stand-in for the Cognito hosted UI.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type Browser, type BrowserContext, type Page, type Route } from 'playwright-core';
import { launchChromium } from '../support/chromium.js';
import { consoleContentSecurityPolicy, withoutMetaContentSecurityPolicy } from '../../lib/control-plane/console-hosting.js';
import { api, startTestControlPlane, waitForOperation, type TestControlPlane } from '../support/control-plane.js';

/** A provision or deprovision runs for real (databases, processes, esbuild): give it time. */
const OPERATION_MS = 90_000;

describe('the operators console, in Chromium, on the local API', () => {
  let cp: TestControlPlane | undefined;
  let browser: Browser | undefined;
  let page: Page;
  const tenant = 'consoleco';
  const displayName = '<b>Console & Co</b>';
  const consoleUrl = () => `${cp!.apiUrl}/console/`;

  beforeAll(async () => {
    cp = await startTestControlPlane();
    browser = await launchChromium();
    page = await browser.newPage();
    page.setDefaultTimeout(10_000);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await cp?.destroy();
  });

  it('shows the tenants page at /console, configured for this API with no sign-in', async () => {
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error' && !message.text().includes('favicon')) errors.push(message.text());
    });

    await page.goto(`${cp!.apiUrl}/console`);

    expect(page.url()).toBe(consoleUrl());
    await page.getByRole('heading', { name: 'Tenants', level: 2 }).waitFor();
    await page.getByText('No tenants yet.').waitFor();
    expect(await page.title()).toBe('Hostplane console');
    expect(await page.evaluate(() => fetch('./config.json').then((r) => r.json()))).toEqual({ apiUrl: cp!.apiUrl, auth: null });
    expect(errors.filter((text) => !text.includes('404'))).toEqual([]);
  });

  it("refuses an invalid tenant id with the API's message and creates nothing", async () => {
    await page.getByLabel('Tenant id', { exact: true }).fill('Not_A_Label');
    await page.getByRole('button', { name: 'Create tenant' }).click();

    const alert = page.getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).toMatch(/^tenantId: /);
    expect((await api(cp!.apiUrl, 'GET', '/tenants')).body.items).toEqual([]);
  });

  it('creates a tenant from the form and shows its operation state by state until SUCCEEDED', async () => {
    await page.getByLabel('Tenant id', { exact: true }).fill(tenant);
    await page.getByLabel('Tier').selectOption('pooled');
    await page.getByLabel('Display name').fill(displayName);
    await page.getByRole('button', { name: 'Create tenant' }).click();

    await page.waitForURL(/#\/operations\//);
    const operationId = decodeURIComponent(page.url().split('#/operations/')[1]!);
    await page.getByTestId('operation-status').filter({ hasText: 'SUCCEEDED' }).waitFor({ timeout: OPERATION_MS });

    const operation = await waitForOperation(cp!.apiUrl, operationId);
    const shown = await page.getByRole('list', { name: 'States' }).getByRole('listitem').locator('strong').allTextContents();
    expect(shown).toEqual((operation.states as { state: string }[]).map((step) => step.state));
    expect(shown).toEqual(expect.arrayContaining(['ValidateTenantRequest', 'CreateTenantDatabase', 'MarkTenantActive']));
  }, OPERATION_MS + 30_000);

  it('lists the tenant as ACTIVE, with its display name as text and a link to its URL', async () => {
    await page.getByRole('link', { name: '← Tenants' }).click();

    const row = page.getByRole('row', { name: new RegExp(tenant) });
    await row.getByText('ACTIVE').waitFor();
    expect(await row.getByRole('cell').nth(1).textContent()).toBe(displayName);
    const { body } = await api(cp!.apiUrl, 'GET', `/tenants/${tenant}`);
    expect(await row.getByRole('link', { name: String(body.url) }).getAttribute('href')).toBe(String(body.url));
  });

  it('shows the tenant with its operations and takes a backup now', async () => {
    await page.getByRole('link', { name: tenant, exact: true }).click();
    await page.getByRole('heading', { name: `Tenant ${tenant}` }).waitFor();
    await page.getByRole('row', { name: /provision/ }).getByText('SUCCEEDED').waitFor();

    await page.getByRole('button', { name: 'Back up now' }).click();

    // A backup is an operation: the console follows it on its page until it SUCCEEDED, naming the backup.
    await page.getByTestId('operation-status').getByText('SUCCEEDED').waitFor();
    const backups = (await api(cp!.apiUrl, 'GET', `/tenants/${tenant}/backups`)).body.items as { backupId: string; reason: string }[];
    expect(backups).toEqual([expect.objectContaining({ reason: 'manual' })]);
    await page.getByText(`Backup: ${backups[0]!.backupId}`).waitFor();

    // Exported from the tenant's backups: the export's page gives the download link.
    await page.getByRole('link', { name: `Tenant ${tenant}` }).click();
    await page.getByRole('row', { name: new RegExp(backups[0]!.backupId) }).getByRole('button', { name: 'Export' }).click();
    const link = page.getByTestId('export-download');
    await link.waitFor();
    expect((await fetch(String(await link.getAttribute('href')))).status).toBe(200);
  });

  it('deletes nothing when the id typed again does not match, then deletes the tenant when it does', async () => {
    await page.getByRole('link', { name: '← Tenants' }).click();
    await page.getByRole('row', { name: new RegExp(tenant) }).getByRole('button', { name: 'Delete' }).click();

    await page.getByLabel('Tenant id to delete').fill('consolec');
    await page.getByRole('button', { name: 'Delete tenant' }).click();
    await page.getByRole('alert').filter({ hasText: 'does not match' }).waitFor();
    expect((await api(cp!.apiUrl, 'GET', `/tenants/${tenant}`)).body.status).toBe('ACTIVE');

    await page.getByLabel('Tenant id to delete').fill(tenant);
    await page.getByRole('button', { name: 'Delete tenant' }).click();
    await page.waitForURL(/#\/operations\//);
    await page.getByTestId('operation-status').filter({ hasText: 'SUCCEEDED' }).waitFor({ timeout: OPERATION_MS });
    await page.getByRole('list', { name: 'States' }).getByText('MarkTenantDeleted').waitFor();

    await page.getByRole('link', { name: '← Tenants' }).click();
    await page.getByText('No tenants yet.').waitFor();
    expect((await api(cp!.apiUrl, 'GET', `/tenants/${tenant}`)).body.status).toBe('DELETED');
  }, OPERATION_MS + 30_000);

  describe('signing in as in the cloud', () => {
    const SIGN_IN = 'https://auth.hostplane.test';
    const CLIENT_ID = 'console-client';
    const ID_TOKEN = `${b64url('{"alg":"none"}')}.${b64url(JSON.stringify({ email: 'ops@example.com', exp: 4_000_000_000 }))}.sig`;
    let context: BrowserContext;
    let signedIn: Page;
    const authorizations: URL[] = [];
    const exchanges: URLSearchParams[] = [];
    const logouts: URL[] = [];
    const apiAuthorization: (string | undefined)[] = [];

    /**
     * Sends the browser on to `href` as Cognito's 302 would, but as a page that navigates: Playwright
     * does not route a redirect's target, and the console's page must be routed (see beforeAll).
     */
    function goTo(route: Route, href: string): Promise<void> {
      const attribute = href.replace(/&/g, '&amp;').replace(/"/g, '&quot;');
      return route.fulfill({ contentType: 'text/html', body: `<meta http-equiv="refresh" content="0; url=${attribute}">` });
    }

    /** The Cognito hosted UI, as far as the console sees it: authorize, token and logout. */
    async function hostedUi(route: Route): Promise<void> {
      const url = new URL(route.request().url());
      if (url.pathname === '/oauth2/authorize') {
        authorizations.push(url);
        const back = new URL(url.searchParams.get('redirect_uri')!);
        back.search = new URLSearchParams({ code: 'the-code', state: url.searchParams.get('state')! }).toString();
        return goTo(route, back.href);
      }
      if (url.pathname === '/oauth2/token' && route.request().method() === 'POST') {
        const form = new URLSearchParams(route.request().postData() ?? '');
        exchanges.push(form);
        const challenge = authorizations.at(-1)?.searchParams.get('code_challenge');
        const ok = form.get('code') === 'the-code' && challenge === createHash('sha256').update(form.get('code_verifier') ?? '').digest('base64url');
        return route.fulfill({
          status: ok ? 200 : 400,
          headers: { 'access-control-allow-origin': '*' },
          contentType: 'application/json',
          body: JSON.stringify(ok ? { id_token: ID_TOKEN, access_token: 'access', refresh_token: 'refresh', expires_in: 3600, token_type: 'Bearer' } : { error: 'invalid_grant' }),
        });
      }
      if (url.pathname === '/logout') {
        logouts.push(url);
        return goTo(route, url.searchParams.get('logout_uri')!);
      }
      return route.fulfill({ status: 404 });
    }

    beforeAll(async () => {
      context = await browser!.newContext();
      const redirectUri = consoleUrl();
      // What ConsoleHosting deploys: config.json with sign-in settings, the page without its meta CSP, the CSP as a header.
      await context.route(`${redirectUri}config.json`, (route) =>
        route.fulfill({ contentType: 'application/json', body: JSON.stringify({ apiUrl: cp!.apiUrl, auth: { domain: SIGN_IN, clientId: CLIENT_ID, redirectUri } }) }),
      );
      await context.route(
        (url) => url.href.startsWith(redirectUri) && (url.pathname === '/console/' || url.pathname === '/console/index.html'),
        async (route) => {
          const original = await route.fetch();
          await route.fulfill({
            response: original,
            body: withoutMetaContentSecurityPolicy(await original.text()),
            headers: { ...original.headers(), 'content-security-policy': consoleContentSecurityPolicy([SIGN_IN]) },
          });
        },
      );
      await context.route(`${SIGN_IN}/**`, hostedUi);
      signedIn = await context.newPage();
      signedIn.setDefaultTimeout(10_000);
      signedIn.on('request', (request) => {
        if (request.url().startsWith(`${cp!.apiUrl}/tenants`)) apiAuthorization.push(request.headers()['authorization']);
      });
    });

    afterAll(async () => {
      await context?.close();
    });

    it('asks to sign in and calls no API before', async () => {
      await signedIn.goto(`${consoleUrl()}#/`);

      await signedIn.getByRole('button', { name: 'Sign in' }).waitFor();
      expect(apiAuthorization).toEqual([]);
    });

    it('signs in with the authorization code and an S256 challenge, then calls the API with the id token', async () => {
      await signedIn.getByRole('button', { name: 'Sign in' }).click();

      await signedIn.getByRole('heading', { name: 'Tenants', level: 2 }).waitFor();
      await signedIn.getByText('ops@example.com').waitFor();
      const authorize = authorizations[0]!;
      expect(Object.fromEntries(authorize.searchParams)).toEqual({
        response_type: 'code',
        client_id: CLIENT_ID,
        redirect_uri: consoleUrl(),
        scope: 'openid email',
        state: expect.stringMatching(/^[\w-]{43}$/),
        code_challenge: expect.stringMatching(/^[\w-]{43}$/),
        code_challenge_method: 'S256',
      });
      expect(Object.fromEntries(exchanges[0]!)).toEqual({
        grant_type: 'authorization_code',
        client_id: CLIENT_ID,
        code: 'the-code',
        redirect_uri: consoleUrl(),
        code_verifier: expect.stringMatching(/^[\w-]{43}$/),
      });
      expect(apiAuthorization.length).toBeGreaterThan(0);
      expect(new Set(apiAuthorization)).toEqual(new Set([ID_TOKEN]));
      // The code is gone from the address bar; nothing in localStorage; the verifier is spent.
      expect(signedIn.url()).toBe(`${consoleUrl()}#/`);
      const storage = await signedIn.evaluate('({ local: localStorage.length, session: Object.keys(sessionStorage).sort() })');
      expect(storage).toEqual({ local: 0, session: ['hostplane.expiresAt', 'hostplane.idToken'] });
    });

    it('redeems no code whose state it did not send, and stays signed in as it was', async () => {
      await signedIn.goto(`${consoleUrl()}?code=stolen&state=forged#/`);

      await signedIn.getByRole('alert').filter({ hasText: 'does not match a sign-in started here' }).waitFor();
      await signedIn.getByText('ops@example.com').waitFor();
      expect(exchanges).toHaveLength(1);
      expect(signedIn.url()).toBe(`${consoleUrl()}#/`);
    });

    it('signs out at the hosted UI and comes back signed out', async () => {
      await signedIn.getByRole('button', { name: 'Sign out' }).click();

      await signedIn.getByRole('button', { name: 'Sign in' }).waitFor();
      expect(Object.fromEntries(logouts[0]!.searchParams)).toEqual({ client_id: CLIENT_ID, logout_uri: consoleUrl() });
      expect(await signedIn.evaluate('sessionStorage.length')).toBe(0);
    });
  });
});

function b64url(text: string): string {
  return Buffer.from(text).toString('base64url');
}
