package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// migrations[i] takes the schema from version i to version i+1. Append only:
// a released migration never changes.
var migrations = []string{
	// 1: the records. Scope and id are bytea so that any bytes fit (text
	// refuses NUL) and they sort byte-wise whatever the database collation.
	`CREATE TABLE strongroom_records (
		kind  text COLLATE "C" NOT NULL CHECK (kind ~ '^[a-z0-9_-]{1,64}$'),
		scope bytea NOT NULL CHECK (octet_length(scope) <= 1024),
		id    bytea NOT NULL CHECK (octet_length(id) BETWEEN 1 AND 1024),
		value bytea NOT NULL,
		PRIMARY KEY (kind, scope, id)
	)`,
}

// SchemaVersion is the database schema version this package creates and
// works with: len(migrations).
const SchemaVersion = 1

// migrateLock is the advisory lock key that serializes migrations between
// nodes starting at once.
const migrateLock = 0x7374726f6e67_01 // "strong" 01

// migrate brings the schema to SchemaVersion in one transaction, or refuses
// a schema newer than that.
func migrate(ctx context.Context, conn *pgx.Conn) (err error) {
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{})
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrateLock)); err != nil {
		return fmt.Errorf("postgres: migrate: lock: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS strongroom_schema_version (version integer NOT NULL)`); err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	var version int
	if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM strongroom_schema_version`).Scan(&version); err != nil {
		return fmt.Errorf("postgres: migrate: read schema version: %w", err)
	}
	if version > SchemaVersion {
		return fmt.Errorf("postgres: database schema version %d is newer than this strongroom supports (%d)", version, SchemaVersion)
	}
	if version == SchemaVersion {
		return nil
	}
	for v := version; v < SchemaVersion; v++ {
		if _, err := tx.Exec(ctx, migrations[v]); err != nil {
			return fmt.Errorf("postgres: migrate to schema version %d: %w", v+1, err)
		}
	}
	if _, err := tx.Exec(ctx, `DELETE FROM strongroom_schema_version`); err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO strongroom_schema_version (version) VALUES ($1)`, SchemaVersion); err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: migrate: commit: %w", err)
	}
	return nil
}
