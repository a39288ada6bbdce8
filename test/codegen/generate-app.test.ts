import { describe, expect, it } from '@jest/globals';
import { Script } from 'node:vm';
import { readFileSync } from 'node:fs';
import { parseAppDefinition, type AppDefinition } from '../../lambdas/app-definition/app-definition-schema.js';
import { planMigration } from '../../lambdas/app-definition/migration-plan.js';
import { buildAppModel } from '../../lambdas/codegen/app-model.js';
import { generateApp } from '../../lambdas/codegen/generate-app.js';
import { bookshop } from './support/app-process.js';
import { typeCheck } from './support/type-check.js';

const starter = parseAppDefinition(readFileSync(new URL('../../lambdas/app-definition/examples/starter.json', import.meta.url), 'utf8'));

const longName = 'a_very_long_entity_name_that_goes_on_and';
/** Every type, names long enough that constraint names get shortened, and a tricky app name. */
const tricky = parseAppDefinition({
  name: 'Tricky \u00a0 process.exit(9) </script><script>alert(1)</script> “quotes”',
  entities: [
    {
      name: longName,
      fields: [
        { name: 'a_very_long_field_name_that_goes_on_and_', type: 'string', unique: true },
        { name: 'kind', type: 'enum', values: ["it's", 'a "quoted" value', '\u00e9'], required: true },
        { name: 'parent', type: 'reference', entity: longName },
        { name: 'at', type: 'timestamp', default: '2024-01-31T12:00:00Z' },
        { name: 'ratio', type: 'number' },
        { name: 'count', type: 'integer', default: 0 },
        { name: 'flag', type: 'boolean' },
        { name: 'notes', type: 'text' },
      ],
    },
  ],
});

const sourcesOf = (definition: AppDefinition) =>
  Object.fromEntries(Object.entries(generateApp(definition).files).filter(([path]) => path.startsWith('src/')));

describe('generateApp', () => {
  it('is deterministic: the same definition gives identical files, a different one different files', () => {
    const first = generateApp(bookshop());
    expect(generateApp(parseAppDefinition(JSON.parse(JSON.stringify(bookshop())) as unknown))).toEqual(first);
    expect(Object.keys(first.files)).toEqual([
      'public/app.js',
      'public/index.html',
      'public/style.css',
      'src/cache.ts',
      'src/config.ts',
      'src/database.ts',
      'src/entity-api.ts',
      'src/http.ts',
      'src/model.ts',
      'src/server.ts',
      'src/types.ts',
      'src/validation.ts',
    ]);
    expect(first.entry).toBe('src/server.ts');
    expect(first.app).toBe('Bookshop');
    const other = generateApp(starter);
    expect(other.files['src/model.ts']).not.toBe(first.files['src/model.ts']);
    expect(other.files['public/app.js']).not.toBe(first.files['public/app.js']);
    const body = (text: string | undefined) => text?.slice(text.indexOf('\n') + 1);
    expect(body(other.files['src/server.ts'])).toBe(body(first.files['src/server.ts']));
  });

  it('writes backend TypeScript that type-checks under strict settings, whatever the definition', () => {
    for (const definition of [bookshop(), tricky]) {
      expect({ app: definition.name, problems: typeCheck(sourcesOf(definition)) }).toEqual({ app: definition.name, problems: [] });
    }
  }, 60_000);

  it('keeps every generated backend file ASCII, so no name from a definition can end a comment or a string', () => {
    for (const [path, text] of Object.entries(sourcesOf(tricky))) {
      expect({ path, nonAscii: /[^\x20-\x7e\n]/.exec(text)?.[0] }).toEqual({ path, nonAscii: undefined });
    }
    expect(generateApp(tricky).files['src/model.ts']).toContain('"app": "Tricky \\u00a0 process.exit(9)');
  });

  it('names constraints as the migration plan creates them, so database errors name the right field', () => {
    for (const definition of [bookshop(), tricky]) {
      const sql = planMigration(null, definition, { allowDestructive: false }).steps.map((step) => step.sql).join('\n');
      const model = buildAppModel(definition);
      for (const entity of model.entities) {
        for (const [name, { field }] of Object.entries({ ...entity.constraints, ...entity.referrers })) {
          expect({ name, field, inSql: sql.includes(`CONSTRAINT "${name}"`) }).toEqual({ name, field, inSql: true });
        }
        expect(sql).toContain(`CREATE TABLE IF NOT EXISTS ${entity.table} (`);
      }
    }
    const [entity] = buildAppModel(tricky).entities;
    expect(Object.values(entity!.constraints)).toEqual([
      { field: 'a_very_long_field_name_that_goes_on_and_', kind: 'unique' },
      { field: 'kind', kind: 'check' },
      { field: 'parent', kind: 'foreign-key' },
    ]);
    expect(Object.keys(entity!.constraints).every((name) => name.length <= 63)).toBe(true);
  });

  it('writes a front end that parses, names no external URL, and escapes the app name', () => {
    for (const definition of [bookshop(), tricky]) {
      const files = generateApp(definition).files;
      const appJs = files['public/app.js']!;
      expect(() => new Script(appJs, { filename: 'app.js' })).not.toThrow();
      for (const path of ['public/app.js', 'public/index.html', 'public/style.css']) {
        expect({ path, external: /(?:https?:)?\/\/[a-z0-9.-]+\.[a-z]{2,}|url\(/i.exec(files[path]!)?.[0] }).toEqual({ path, external: undefined });
      }
      for (const entity of definition.entities) expect(appJs).toContain(`"name": "${entity.name}"`);
    }
    const html = generateApp(tricky).files['public/index.html']!;
    expect(html).not.toContain('<script>alert(1)');
    expect(html).toContain('&#60;/script&#62;&#60;script&#62;alert(1)');
    expect(html).toContain('<script type="module" src="app.js"></script>');
  });
});
