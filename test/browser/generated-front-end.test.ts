/**
 * The generated front end, driven in a real browser (Debian's Chromium through playwright-core)
 * through the front door, as a tenant's user would: list, create, validate, edit, delete, and a
 * hot deploy while the page is open.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type Browser, type Page } from 'playwright-core';
import { launchChromium } from '../support/chromium.js';
import { api, getThroughFrontDoor, startTestControlPlane, waitForRelease, type TestControlPlane } from '../support/control-plane.js';
import { pollUntil } from '../support/poll.js';


const bookshop = JSON.parse(readFileSync(new URL('../../lambdas/app-definition/examples/bookshop.json', import.meta.url), 'utf8')) as {
  entities: { name: string; fields: unknown[] }[];
};

describe('the generated front end, in Chromium, through the front door', () => {
  let cp: TestControlPlane;
  let browser: Browser | undefined;
  let page: Page;
  const tenant = 'webshop';
  const url = () => `http://${tenant}.localhost:${cp.edgePort}/`;

  async function deploy(definition: unknown): Promise<string> {
    const started = await api(cp.apiUrl, 'POST', `/tenants/${tenant}/deployments`, { definition, allowDestructive: true });
    expect(started.status).toBe(202);
    const ended = await pollUntil(
      async () => {
        const { body } = await api(cp.apiUrl, 'GET', `/tenants/${tenant}/deployments/${String(started.body.deploymentId)}`);
        return body.status === 'RUNNING' ? undefined : body;
      },
      { timeoutMs: 60_000, what: 'the deployment to end' },
    );
    expect(ended.status).toBe('SUCCEEDED');
    const release = String(ended.releaseId);
    await waitForRelease(cp.edgePort, `${tenant}.localhost:${cp.edgePort}`, release);
    return release;
  }

  async function books(): Promise<Record<string, unknown>[]> {
    const reply = await getThroughFrontDoor(cp.edgePort, `${tenant}.localhost:${cp.edgePort}`, '/api/book');
    return (JSON.parse(reply.body) as { items: Record<string, unknown>[] }).items;
  }

  beforeAll(async () => {
    cp = await startTestControlPlane({ reloaderPollMs: 100 });
    const created = await api(cp.apiUrl, 'POST', '/tenants', { tenantId: tenant });
    await pollUntil(
      async () => ((await api(cp.apiUrl, 'GET', `/operations/${String(created.body.operationId)}`)).body.status === 'SUCCEEDED' ? true : undefined),
      { timeoutMs: 60_000, what: 'the tenant to be provisioned' },
    );
    await deploy(bookshop);
    // playwright-core gives the browser a fresh profile of its own and removes it on close.
    browser = await launchChromium();
    page = await browser.newPage();
    page.setDefaultTimeout(10_000);
    page.on('dialog', (dialog) => void dialog.accept());
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await cp?.destroy();
  });

  it('shows the app with a tab per entity and an empty list', async () => {
    await page.goto(url());
    await page.getByRole('heading', { name: 'book', level: 2 }).waitFor();
    expect(await page.title()).toBe('Bookshop');
    expect(await page.getByRole('navigation').getByRole('button').allTextContents()).toEqual(['book', 'review']);
    await page.getByText('Nothing yet.').waitFor();
  });

  it('creates a row from the form, and the API has it', async () => {
    await page.getByLabel('title').fill('Dune');
    await page.getByLabel('pages').fill('412');
    await page.getByRole('button', { name: 'Create' }).click();

    await page.getByRole('cell', { name: 'Dune' }).waitFor();
    expect(await books()).toEqual([expect.objectContaining({ title: 'Dune', pages: 412, published: false })]);
  });

  it("shows the API's validation error beside the form and marks the field", async () => {
    // A reference to a book that does not exist: only the server can know, so the browser lets it through.
    await page.getByRole('navigation').getByRole('button', { name: 'review' }).click();
    await page.getByRole('heading', { name: 'review', level: 2 }).waitFor();
    await page.getByLabel('book').fill('999');
    await page.getByLabel('stars').fill('5');
    await page.getByRole('button', { name: 'Create' }).click();

    const alert = page.getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).toMatch(/^book: /);
    expect(await page.getByLabel('book').getAttribute('aria-invalid')).toBe('true');

    await page.getByRole('navigation').getByRole('button', { name: 'book' }).click();
    await page.getByRole('cell', { name: 'Dune' }).waitFor();
  });

  it('edits and deletes a row', async () => {
    await page.getByRole('row', { name: /Dune/ }).getByRole('button', { name: 'Edit' }).click();
    await page.getByLabel('pages').fill('500');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('cell', { name: '500' }).waitFor();
    expect(await books()).toEqual([expect.objectContaining({ title: 'Dune', pages: 500 })]);

    await page.getByRole('row', { name: /Dune/ }).getByRole('button', { name: 'Delete' }).click();
    await page.getByText('Nothing yet.').waitFor();
    expect(await books()).toEqual([]);
  });

  it('shows the new field after a hot deploy, on reload, with the data kept', async () => {
    await page.getByLabel('title').fill('Kept');
    await page.getByRole('button', { name: 'Create' }).click();
    await page.getByRole('cell', { name: 'Kept' }).waitFor();

    await deploy({
      ...bookshop,
      entities: bookshop.entities.map((entity) =>
        entity.name === 'book' ? { ...entity, fields: [...entity.fields, { name: 'isbn', type: 'string' }] } : entity,
      ),
    });
    await page.reload();

    await page.getByRole('columnheader', { name: 'isbn' }).waitFor();
    await page.getByRole('cell', { name: 'Kept' }).waitFor();
    await page.screenshot({ path: join(cp.stateDir, 'front-end.png') });
  });
});
