/**
 * The generated front end: `public/index.html`, `public/style.css` and `public/app.js`. No
 * framework and no external URL; it lists, filters, pages, creates, edits and deletes the rows
 * of every entity through the generated API. The DOM is built with textContent only, never
 * from HTML strings, so values from the database cannot inject markup.
 */

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function indexHtml(appName: string): string {
  const name = escapeHtml(appName);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${name}</title>
<link rel="stylesheet" href="style.css">
<script type="module" src="app.js"></script>
</head>
<body>
<header>
<h1>${name}</h1>
<nav id="entities" aria-label="Entities"></nav>
</header>
<main id="main"><p>Loading…</p></main>
<noscript><p>This page needs JavaScript.</p></noscript>
</body>
</html>
`;
}

export const STYLE_CSS = `:root { font-family: system-ui, sans-serif; color: #1d1d1f; background: #fafafa; }
body { margin: 0; }
header { display: flex; flex-wrap: wrap; align-items: baseline; gap: 1.5rem; padding: 0.75rem 1.5rem; background: #fff; border-bottom: 1px solid #ddd; }
header h1 { margin: 0; font-size: 1.25rem; }
nav button { margin-right: 0.25rem; }
nav button[aria-current="page"] { font-weight: 600; border-color: #1d1d1f; }
main { padding: 1rem 1.5rem; max-width: 72rem; }
table { border-collapse: collapse; width: 100%; background: #fff; margin: 0.75rem 0; }
th, td { border: 1px solid #ddd; padding: 0.35rem 0.5rem; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
td.actions { white-space: nowrap; }
form { display: grid; gap: 0.5rem; max-width: 36rem; }
form.filter { display: flex; flex-wrap: wrap; gap: 0.5rem; max-width: none; align-items: center; }
label { display: grid; gap: 0.2rem; }
label span.required::after { content: " *"; color: #b00020; }
input, select, textarea, button { font: inherit; padding: 0.3rem 0.5rem; }
[aria-invalid="true"] { outline: 2px solid #b00020; }
.error { color: #b00020; }
.muted { color: #666; }
`;

/** Front-end source after the model: written without backticks or dollar-brace sequences. */
const APP_JS_BODY = String.raw`
const PAGE_SIZE = 20;
const main = document.getElementById('main');
const nav = document.getElementById('entities');
const entities = new Map(MODEL.entities.map((entity) => [entity.name, entity]));

function el(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'text') node.textContent = String(value);
    else if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
    else if (name === 'value') node.value = String(value);
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children) if (child !== undefined && child !== null) node.append(child);
  return node;
}

class ApiError extends Error {
  constructor(message, field) {
    super(message);
    this.field = field;
  }
}

async function api(method, path, body) {
  const init = { method, headers: { accept: 'application/json' } };
  if (body !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  if (response.status === 204) return null;
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) throw new ApiError((data && data.message) || response.status + ' ' + response.statusText, data ? data.field : undefined);
  return data;
}

function pad(number, width) {
  return String(number).padStart(width || 2, '0');
}

function toLocalInput(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '';
  return date.getFullYear() + '-' + pad(date.getMonth() + 1) + '-' + pad(date.getDate()) + 'T' +
    pad(date.getHours()) + ':' + pad(date.getMinutes()) + ':' + pad(date.getSeconds());
}

function display(field, value) {
  if (value === null || value === undefined) return '';
  if (field.type === 'boolean') return value ? 'yes' : 'no';
  if (field.type === 'timestamp') return new Date(value).toLocaleString();
  const text = String(value);
  return text.length > 80 ? text.slice(0, 79) + '…' : text;
}

function inputFor(field, value) {
  const id = 'field-' + field.name;
  const common = { id, name: field.name, required: field.required && !field.hasDefault };
  switch (field.type) {
    case 'text':
      return el('textarea', { ...common, rows: 4, value: value ?? '' });
    case 'integer':
      return el('input', { ...common, type: 'number', step: 1, value: value ?? '' });
    case 'number':
      return el('input', { ...common, type: 'number', step: 'any', value: value ?? '' });
    case 'reference':
      return el('input', { ...common, type: 'number', step: 1, min: 1, value: value ?? '', title: 'id of a ' + field.entity });
    case 'timestamp':
      return el('input', { ...common, type: 'datetime-local', step: 1, value: value ? toLocalInput(value) : '' });
    case 'boolean':
    case 'enum': {
      const options = field.type === 'boolean' ? ['true', 'false'] : field.values;
      const select = el('select', common);
      if (!field.required || field.hasDefault) select.append(el('option', { value: '', text: '' }));
      for (const option of options) select.append(el('option', { value: option, text: field.type === 'boolean' ? (option === 'true' ? 'yes' : 'no') : option }));
      select.value = value === null || value === undefined ? '' : String(value);
      return select;
    }
    default:
      return el('input', { ...common, type: 'text', maxlength: field.maxLength, value: value ?? '' });
  }
}

function readInput(field, raw) {
  switch (field.type) {
    case 'integer':
    case 'number':
    case 'reference': {
      const number = Number(raw);
      return Number.isNaN(number) ? raw : number;
    }
    case 'boolean':
      return raw === 'true';
    case 'timestamp': {
      const date = new Date(raw);
      return Number.isNaN(date.getTime()) ? raw : date.toISOString();
    }
    default:
      return raw;
  }
}

const state = { entity: undefined, items: [], next: null, filter: null, editing: null, message: '' };

function listPath(cursor) {
  const params = new URLSearchParams();
  if (state.filter) params.set(state.filter.field, state.filter.value);
  params.set('limit', String(PAGE_SIZE));
  if (cursor) params.set('cursor', cursor);
  return 'api/' + state.entity.name + '?' + params.toString();
}

async function load(more) {
  try {
    const page = await api('GET', listPath(more ? state.next : null));
    state.items = more ? state.items.concat(page.items) : page.items;
    state.next = page.next;
    state.message = '';
  } catch (error) {
    state.items = more ? state.items : [];
    state.next = null;
    state.message = error.message;
  }
  render();
}

function open(name) {
  const entity = entities.get(name) || MODEL.entities[0];
  state.entity = entity;
  state.items = [];
  state.next = null;
  state.filter = null;
  state.editing = null;
  state.message = '';
  for (const button of nav.querySelectorAll('button')) {
    if (button.dataset.entity === entity.name) button.setAttribute('aria-current', 'page');
    else button.removeAttribute('aria-current');
  }
  void load(false);
}

function filterForm() {
  const entity = state.entity;
  const select = el('select', { name: 'field', 'aria-label': 'Field' }, ...entity.fields.map((field) => el('option', { value: field.name, text: field.name })));
  const value = el('input', { name: 'value', 'aria-label': 'Value', placeholder: 'equals…' });
  if (state.filter) {
    select.value = state.filter.field;
    value.value = state.filter.value;
  }
  return el('form', {
    class: 'filter',
    onsubmit: (event) => {
      event.preventDefault();
      state.filter = { field: select.value, value: value.value };
      void load(false);
    },
  }, 'Filter', select, value, el('button', { type: 'submit', text: 'Apply' }), el('button', {
    type: 'button',
    text: 'Clear',
    onclick: () => {
      state.filter = null;
      void load(false);
    },
  }));
}

function table() {
  const entity = state.entity;
  const head = el('tr', {}, el('th', { text: 'id' }), ...entity.fields.map((field) => el('th', { text: field.name })), el('th', { text: '' }));
  const rows = state.items.map((item) => el('tr', {},
    el('td', { text: item.id }),
    ...entity.fields.map((field) => el('td', { text: display(field, item[field.name]) })),
    el('td', { class: 'actions' },
      el('button', { type: 'button', text: 'Edit', onclick: () => { state.editing = item; state.message = ''; render(); } }),
      ' ',
      el('button', { type: 'button', text: 'Delete', onclick: () => void remove(item) }))));
  if (rows.length === 0) rows.push(el('tr', {}, el('td', { colspan: entity.fields.length + 2, class: 'muted', text: 'Nothing yet.' })));
  return el('table', {}, el('thead', {}, head), el('tbody', {}, ...rows));
}

async function remove(item) {
  if (!window.confirm('Delete ' + state.entity.name + ' ' + item.id + '?')) return;
  try {
    await api('DELETE', 'api/' + state.entity.name + '/' + item.id);
    if (state.editing && state.editing.id === item.id) state.editing = null;
    await load(false);
  } catch (error) {
    state.message = error.message;
    render();
  }
}

function editForm() {
  const entity = state.entity;
  const editing = state.editing;
  const inputs = new Map();
  const error = el('p', { class: 'error', role: 'alert' });
  const labels = entity.fields.map((field) => {
    const input = inputFor(field, editing ? editing[field.name] : undefined);
    inputs.set(field.name, input);
    const hint = field.type === 'reference' ? ' (id of a ' + field.entity + ')' : '';
    return el('label', {}, el('span', { class: field.required && !field.hasDefault ? 'required' : '', text: field.name + hint }), input);
  });
  const form = el('form', {
    onsubmit: async (event) => {
      event.preventDefault();
      const body = {};
      for (const field of entity.fields) {
        const raw = inputs.get(field.name).value;
        if (raw === '') {
          if (editing) body[field.name] = null;
          continue;
        }
        body[field.name] = readInput(field, raw);
      }
      for (const input of inputs.values()) input.removeAttribute('aria-invalid');
      try {
        if (editing) await api('PATCH', 'api/' + entity.name + '/' + editing.id, body);
        else await api('POST', 'api/' + entity.name, body);
        state.editing = null;
        await load(false);
      } catch (failure) {
        error.textContent = failure.message;
        const input = failure.field ? inputs.get(failure.field) : undefined;
        if (input) {
          input.setAttribute('aria-invalid', 'true');
          input.focus();
        }
      }
    },
  },
  el('h3', { text: editing ? 'Edit ' + entity.name + ' ' + editing.id : 'New ' + entity.name }),
  ...labels,
  el('div', {},
    el('button', { type: 'submit', text: editing ? 'Save' : 'Create' }),
    editing ? ' ' : null,
    editing ? el('button', { type: 'button', text: 'Cancel', onclick: () => { state.editing = null; render(); } }) : null),
  error);
  return form;
}

function render() {
  const entity = state.entity;
  const parts = [
    el('h2', { text: entity.name }),
    filterForm(),
    state.message ? el('p', { class: 'error', role: 'alert', text: state.message }) : null,
    table(),
    state.next ? el('button', { type: 'button', text: 'Load more', onclick: () => void load(true) }) : null,
    editForm(),
  ];
  main.replaceChildren(...parts.filter((part) => part !== null));
}

for (const entity of MODEL.entities) {
  nav.append(el('button', { type: 'button', 'data-entity': entity.name, text: entity.name, onclick: () => { window.location.hash = entity.name; } }));
}
function hashEntity() {
  try {
    return decodeURIComponent(window.location.hash.slice(1));
  } catch {
    return '';
  }
}

window.addEventListener('hashchange', () => open(hashEntity()));
open(hashEntity());
`;

export interface FrontendModel {
  readonly app: string;
  readonly entities: readonly {
    readonly name: string;
    readonly fields: readonly {
      readonly name: string;
      readonly type: string;
      readonly required: boolean;
      readonly hasDefault: boolean;
      readonly maxLength?: number;
      readonly values?: readonly string[];
      readonly entity?: string;
    }[];
  }[];
}

/** `public/app.js`: the model (as JSON text, from the generator) and the code above. */
export function appJs(header: string, modelJson: string): string {
  return `${header}\nconst MODEL = ${modelJson};\n${APP_JS_BODY}`;
}

