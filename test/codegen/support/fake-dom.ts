import { createContext, Script } from 'node:vm';

/**
 * Just enough of a DOM to run the generated front end's `app.js` in a VM context: elements
 * built with createElement, attributes, text, values, listeners, and a window with a hash.
 * No browser is installed here; this drives the page's code against the real API instead.
 */

type Listener = (event: FakeEvent) => unknown;

export interface FakeEvent {
  readonly type: string;
  preventDefault(): void;
}

export class FakeElement {
  readonly attributes = new Map<string, string>();
  readonly children: (FakeElement | string)[] = [];
  readonly listeners = new Map<string, Listener[]>();
  readonly dataset: Record<string, string> = {};
  textContent = '';
  value = '';
  focused = false;

  constructor(readonly tagName: string) {}

  setAttribute(name: string, value: string): void {
    this.attributes.set(name, String(value));
    if (name.startsWith('data-')) this.dataset[name.slice(5).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())] = String(value);
  }
  getAttribute(name: string): string | null {
    return this.attributes.get(name) ?? null;
  }
  removeAttribute(name: string): void {
    this.attributes.delete(name);
  }
  addEventListener(type: string, listener: Listener): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
  }
  /** As the DOM does, anything but an element becomes text (`null` included, which shows as "null"). */
  append(...nodes: unknown[]): void {
    this.children.push(...nodes.map((node) => (node instanceof FakeElement ? node : String(node))));
  }
  replaceChildren(...nodes: unknown[]): void {
    this.children.length = 0;
    this.append(...nodes);
  }
  focus(): void {
    this.focused = true;
  }
  /** Descendants, depth first. */
  all(): FakeElement[] {
    return this.children.flatMap((child) => (typeof child === 'string' ? [] : [child, ...child.all()]));
  }
  querySelectorAll(tag: string): FakeElement[] {
    return this.all().filter((element) => element.tagName === tag);
  }
  find(tag: string, predicate: (element: FakeElement) => boolean = () => true): FakeElement {
    const found = this.all().find((element) => element.tagName === tag && predicate(element));
    if (!found) throw new Error(`no <${tag}> found in <${this.tagName}>: ${this.text()}`);
    return found;
  }
  /** The text a person would read. */
  text(): string {
    return [this.textContent, ...this.children.map((child) => (typeof child === 'string' ? child : child.text()))].join(' ').replace(/\s+/g, ' ').trim();
  }
  /** Runs the listeners; resolves once async ones are done. */
  async dispatch(type: string): Promise<void> {
    const event: FakeEvent = { type, preventDefault: () => undefined };
    await Promise.all((this.listeners.get(type) ?? []).map((listener) => listener(event)));
  }
}

export interface FakePage {
  readonly main: FakeElement;
  readonly nav: FakeElement;
  readonly location: { hash: string };
}

/** Runs `appJs` with relative fetches sent to `baseUrl`. */
export function runFrontEnd(appJs: string, baseUrl: string): FakePage {
  const main = new FakeElement('main');
  const nav = new FakeElement('nav');
  const byId: Record<string, FakeElement> = { main, entities: nav };
  const location = { hash: '' };
  const windowListeners: Listener[] = [];
  const context = createContext({
    document: {
      getElementById: (id: string) => byId[id] ?? null,
      createElement: (tag: string) => new FakeElement(tag),
    },
    window: {
      location,
      addEventListener: (_type: string, listener: Listener) => windowListeners.push(listener),
      confirm: () => true,
    },
    fetch: (path: string, init: RequestInit) => fetch(new URL(path, `${baseUrl}/`), init),
    URLSearchParams,
  });
  new Script(appJs, { filename: 'app.js' }).runInContext(context);
  return { main, nav, location };
}
