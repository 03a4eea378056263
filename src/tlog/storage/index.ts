// Opens a LogStorage from a database URL: `sqlite:PATH` (embedded) or `postgres://…[?schema=NAME]` (scale-out).
// See storage.ts for the interface both backends implement.

import { resolve } from 'node:path';
import { SealError } from '../../errors.js';
import { PostgresLogStorage } from './postgres.js';
import { SqliteLogStorage } from './sqlite.js';
import type { LogStorage } from './storage.js';

export * from './storage.js';
export {
  DEFAULT_POSTGRES_TIMEOUT_MS,
  parsePostgresUrl,
  PostgresLogStorage,
  type PostgresStorageOptions,
} from './postgres.js';
export { SqliteLogStorage } from './sqlite.js';

/** The SQLite file path of a `sqlite:` URL, or undefined for other URLs. */
export function sqlitePath(db: string): string | undefined {
  if (!db.startsWith('sqlite:')) return undefined;
  const rest = db.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
  if (!rest) throw new SealError('E_INVALID_ARGUMENT', 'sqlite: URL needs a file path, e.g. sqlite:./log.db');
  return rest === ':memory:' ? rest : resolve(rest);
}

export interface OpenStorageOptions {
  /** PostgreSQL: the bound on each database step (PostgresStorageOptions.timeoutMs). */
  timeoutMs?: number;
}

export async function openStorage(db: string, opts: OpenStorageOptions = {}): Promise<LogStorage> {
  const path = sqlitePath(db);
  if (path) return new SqliteLogStorage(path);
  if (/^postgres(ql)?:\/\//.test(db)) return PostgresLogStorage.open(db, opts);
  throw new SealError('E_INVALID_ARGUMENT', `--db must be sqlite:PATH or postgres://…, got "${db}"`);
}
