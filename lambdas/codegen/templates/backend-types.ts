/**
 * `src/types.ts` of a generated app: the shape of its model (`src/model.ts`). It mirrors
 * `AppModel` in `../app-model.ts`; the codegen tests type-check the two together.
 *
 * Templates are written without backticks or dollar-brace sequences, so they sit in
 * `String.raw` literals byte for byte.
 */
export const TYPES_SOURCE = String.raw`export type FieldType = 'string' | 'text' | 'integer' | 'number' | 'boolean' | 'timestamp' | 'enum' | 'reference';

export interface FieldModel {
  readonly name: string;
  readonly type: FieldType;
  readonly column: string;
  readonly required: boolean;
  readonly hasDefault: boolean;
  readonly unique: boolean;
  readonly maxLength?: number;
  readonly values?: readonly string[];
  readonly entity?: string;
}

export interface ConstraintModel {
  readonly field: string;
  readonly kind: 'unique' | 'check' | 'foreign-key';
}

export interface ReferrerModel {
  readonly entity: string;
  readonly field: string;
}

export interface EntityModel {
  readonly name: string;
  readonly table: string;
  readonly columns: string;
  readonly fields: readonly FieldModel[];
  readonly constraints: Readonly<Record<string, ConstraintModel>>;
  readonly referrers: Readonly<Record<string, ReferrerModel>>;
}

export interface AppModel {
  readonly app: string;
  readonly schema: string;
  readonly tag: string;
  readonly entities: readonly EntityModel[];
}

/** A value as the API shows it, and as it goes to the database. */
export type Scalar = string | number | boolean | null;
export type ApiRow = Record<string, Scalar>;
`;
