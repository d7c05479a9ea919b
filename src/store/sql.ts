// The smallest query surface the store needs, so one SQL store runs on PGlite and PostgreSQL alike.
// Both engines speak the same PostgreSQL dialect; everything engine-specific stays behind this.

export interface Sql {
  /** One statement with `$1…` parameters. Dates go in as Date; jsonb goes in as a JSON string. */
  query<T>(text: string, params?: unknown[]): Promise<T[]>;
  /**
   * Run `fn` in one transaction (READ COMMITTED): committed when it resolves, rolled back when it
   * throws. Inside `fn` use only `tx`; a nested `tx.transaction` joins the outer transaction.
   */
  transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** A schema name we are willing to splice into DDL and connection options. */
export function assertSchemaName(schema: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
    throw new Error(`invalid schema name "${schema}": use lower-case letters, digits and _`);
  }
  return schema;
}
