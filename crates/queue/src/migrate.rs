//! Schema migrations, applied at open.
//!
//! The files in `migrations/` use dbmate's format (`-- migrate:up` / `-- migrate:down`)
//! and the applied versions are recorded in dbmate's `schema_migrations` table, so a
//! database created by upstream's dbmate setup and one created here look the same:
//! either tool sees the other's migrations as applied. Versions this build does not
//! know (upstream's early tables, dropped since) are left alone.

use rusqlite::{Connection, params};

/// One embedded migration.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// dbmate version: the file name's timestamp prefix.
    pub version: &'static str,
    pub name: &'static str,
    pub sql: &'static str,
}

macro_rules! migration {
    ($version:literal, $name:literal) => {
        Migration {
            version: $version,
            name: $name,
            sql: include_str!(concat!("../migrations/", $version, "_", $name, ".sql")),
        }
    };
}

/// In version order.
pub const MIGRATIONS: &[Migration] = &[
    migration!("20240914171030", "create_job_queue_tables"),
    migration!("20260721231201", "add_indexes_for_non_primary_key_queries"),
    migration!("20261125000000", "index_logs_by_job"),
    migration!("20261201000000", "record_used_signatures"),
];

impl Migration {
    /// The statements between `-- migrate:up` and `-- migrate:down`.
    pub fn up(&self) -> &'static str {
        let after_up = self.sql.split_once("-- migrate:up").map_or(self.sql, |(_, rest)| rest);
        after_up.split_once("-- migrate:down").map_or(after_up, |(up, _)| up)
    }
}

/// Applies every migration not yet recorded, each in its own transaction.
pub fn migrate(conn: &mut Connection) -> rusqlite::Result<Vec<&'static str>> {
    conn.execute_batch(
        r#"CREATE TABLE IF NOT EXISTS "schema_migrations" (version varchar(128) primary key);"#,
    )?;
    let mut applied = Vec::new();
    for migration in MIGRATIONS {
        let tx = conn.transaction()?;
        let done: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = ?1)",
            params![migration.version],
            |row| row.get(0),
        )?;
        if !done {
            tx.execute_batch(migration.up())?;
            tx.execute("INSERT INTO schema_migrations (version) VALUES (?1)", params![migration.version])?;
            applied.push(migration.version);
        }
        tx.commit()?;
    }
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_apply_once_and_are_recorded() {
        let mut conn = Connection::open_in_memory().unwrap();
        let first = migrate(&mut conn).unwrap();
        assert_eq!(first.len(), MIGRATIONS.len());
        assert!(migrate(&mut conn).unwrap().is_empty());
        let tables: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN \
                 ('job_info','publish_jobs','unpublish_jobs','transfer_jobs','matrix_jobs','package_set_jobs','logs')",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(tables, 7);
    }

    #[test]
    fn up_part_excludes_the_down_statements() {
        for m in MIGRATIONS {
            assert!(!m.up().contains("DROP TABLE job_info"), "{}", m.name);
        }
    }
}
