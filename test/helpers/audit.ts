/** Reading a proxy's audit store from a test, read-only, closing it again. */
import type { StoredEvent } from '../../src/audit/chain.js';
import { query, type Filters } from '../../src/audit/read.js';
import { AuditStore } from '../../src/audit/store.js';

export function auditEvents(db: string, filters: Filters = {}): StoredEvent[] {
  const store = new AuditStore(db, { readonly: true });
  try {
    return query(store, filters);
  } finally {
    store.close();
  }
}
