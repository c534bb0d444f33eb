/**
 * The only module that loads DuckDB (`@duckdb/node-api`, its own native binary, Parquet built in).
 * It is imported by the collect flow alone, which `dcp collect` loads on demand: the worker never
 * imports it, so the worker image can drop the package after `npm ci --omit=dev` (see
 * docs/ARCHITECTURE.md, "collect"). Extensions are never installed or loaded at run time: S3 objects
 * are downloaded with the SDK, not read through httpfs (which DuckDB would otherwise fetch).
 */
import { DuckDBInstance, type DuckDBConnection } from "@duckdb/node-api";

export interface EngineOptions {
  /** A database file in the spool: batches written there are evicted to disk, not held in memory. */
  database: string;
  /** Where DuckDB may spill when a batch does not fit in `memoryLimit`. */
  tempDirectory: string;
  memoryLimit: string;
  threads: number;
}

export class DuckEngine {
  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly connection: DuckDBConnection,
  ) {}

  static async open(options: EngineOptions): Promise<DuckEngine> {
    const instance = await DuckDBInstance.create(options.database, {
      autoinstall_known_extensions: "false",
      autoload_known_extensions: "false",
      memory_limit: options.memoryLimit,
      temp_directory: options.tempDirectory,
      threads: String(options.threads),
      preserve_insertion_order: "true",
    });
    return new DuckEngine(instance, await instance.connect());
  }

  async run(sql: string): Promise<void> {
    await this.connection.run(sql);
  }

  /** Rows as plain JS values (BIGINT counts as numbers). */
  async rows(sql: string): Promise<unknown[][]> {
    const reader = await this.connection.runAndReadAll(sql);
    return reader.getRowsJS().map((row) => row.map((v) => (typeof v === "bigint" ? Number(v) : v)));
  }

  async describe(table: string): Promise<Array<{ name: string; type: string }>> {
    const rows = await this.rows(`DESCRIBE ${table}`);
    return rows.map((r) => ({ name: String(r[0]), type: String(r[1]) }));
  }

  close(): void {
    this.connection.closeSync();
    this.instance.closeSync();
  }
}
