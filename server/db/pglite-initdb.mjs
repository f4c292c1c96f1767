// Creates an embedded PGlite cluster in the directory given as argv[2], then exits.
// Run in a child process: initdb in WASM grows the heap to ~800 MB and WASM memory never
// shrinks, so doing it in the server process would keep that memory for its whole life.
import { PGlite } from '@electric-sql/pglite';

const db = new PGlite(process.argv[2]);
await db.query('select 1');
await db.close();
