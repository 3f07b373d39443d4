import { existsSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";

/** How many job rows the embedded store under `dataDir` holds (0 before it was created). */
export function countJobRows(dataDir: string): number {
  const file = path.join(dataDir, "jobs.db");
  if (!existsSync(file)) return 0;
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return (db.prepare("SELECT COUNT(*) AS n FROM jobs").get() as { n: number }).n;
  } finally {
    db.close();
  }
}
