//! Tables and migrations. One list of versions; each version has its SQL for SQLite and
//! for PostgreSQL (they differ only in the run key's type and the blob type). Applied
//! in order, each in its own transaction, recorded in `schema_migrations`.

/// The database kinds the store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An embedded SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// One migration.
#[derive(Debug, Clone)]
pub struct Migration {
    /// Its version (1, 2, …).
    pub version: i64,
    /// What it does.
    pub description: &'static str,
    /// Its SQL for SQLite.
    pub sqlite: String,
    /// Its SQL for PostgreSQL.
    pub postgres: String,
}

impl Migration {
    /// The SQL for `backend`.
    pub fn sql(&self, backend: Backend) -> &str {
        match backend {
            Backend::Sqlite => &self.sqlite,
            Backend::Postgres => &self.postgres,
        }
    }
}

/// The table that records applied migrations.
pub const MIGRATIONS_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (\
    version BIGINT PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL)";

const V1_COMMON: &str = "
CREATE TABLE tenants (
    name TEXT PRIMARY KEY,
    created_at TEXT NOT NULL
);
CREATE TABLE tokens (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL REFERENCES tenants(name),
    role TEXT NOT NULL CHECK (role IN ('publish', 'read')),
    secret_hash TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE trusted_keys (
    tenant TEXT NOT NULL REFERENCES tenants(name),
    key_id TEXT NOT NULL,
    public_key TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (tenant, key_id)
);
";

const V1_RUNS_SQLITE: &str = "
CREATE TABLE runs (
    pk INTEGER PRIMARY KEY AUTOINCREMENT,
";
const V1_RUNS_POSTGRES: &str = "
CREATE TABLE runs (
    pk BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
";
const V1_RUNS_REST: &str = "
    tenant TEXT NOT NULL REFERENCES tenants(name),
    id TEXT NOT NULL,
    repository TEXT,
    commit_sha TEXT,
    branch TEXT,
    run_url TEXT,
    verdict TEXT NOT NULL,
    proofs BIGINT NOT NULL,
    passed BIGINT NOT NULL,
    failed BIGINT NOT NULL,
    tests BIGINT NOT NULL,
    published_at TEXT NOT NULL,
    UNIQUE (tenant, id)
);
CREATE INDEX runs_by_tenant ON runs (tenant, pk);
CREATE INDEX runs_by_commit ON runs (tenant, commit_sha);
CREATE TABLE proofs (
    run_pk BIGINT NOT NULL REFERENCES runs(pk),
    tenant TEXT NOT NULL,
    file TEXT NOT NULL,
    script_id TEXT NOT NULL,
    script_path TEXT NOT NULL,
    script_digest TEXT NOT NULL,
    tests_digest TEXT NOT NULL,
    verdict TEXT NOT NULL,
    tests BIGINT NOT NULL,
    passed BIGINT NOT NULL,
    failed BIGINT NOT NULL,
    errors BIGINT NOT NULL,
    skipped BIGINT NOT NULL,
    generated_at TEXT NOT NULL,
    keyid TEXT NOT NULL,
    PRIMARY KEY (run_pk, file)
);
CREATE INDEX proofs_by_subject ON proofs (tenant, script_digest);
CREATE INDEX proofs_by_script ON proofs (tenant, script_id);
";

const V1_FILES_SQLITE: &str = "
CREATE TABLE run_files (
    run_pk BIGINT NOT NULL REFERENCES runs(pk),
    name TEXT NOT NULL,
    content BLOB NOT NULL,
    PRIMARY KEY (run_pk, name)
);
";
const V1_FILES_POSTGRES: &str = "
CREATE TABLE run_files (
    run_pk BIGINT NOT NULL REFERENCES runs(pk),
    name TEXT NOT NULL,
    content BYTEA NOT NULL,
    PRIMARY KEY (run_pk, name)
);
";

/// Every migration, oldest first.
pub fn migrations() -> Vec<Migration> {
    vec![Migration {
        version: 1,
        description: "tenants, tokens, trusted keys, runs, proofs, run files",
        sqlite: format!("{V1_COMMON}{V1_RUNS_SQLITE}{V1_RUNS_REST}{V1_FILES_SQLITE}"),
        postgres: format!("{V1_COMMON}{V1_RUNS_POSTGRES}{V1_RUNS_REST}{V1_FILES_POSTGRES}"),
    }]
}

/// The newest schema version this build knows.
pub fn latest_version() -> i64 {
    migrations().last().map_or(0, |m| m.version)
}
