//! The one database layer, on sqlx's `Any` driver so that the same queries serve
//! SQLite and PostgreSQL (`$N` placeholders work in both). Every read and write of a run
//! is scoped by tenant: another tenant's run is not found, never forbidden.

use std::collections::BTreeMap;
use std::sync::Once;
use std::time::Duration;

use serde::Serialize;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row as _};

use super::StoreError;
use super::schema::{self, Backend};
use super::token::{self, NewToken, Role};
use super::upload::{CheckedRun, RunSummary};
use crate::sign::PublicKey;

/// An open store.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

/// The default database.
pub const DEFAULT_DB: &str = "sqlite://proofgate.db";

/// Rows a statement inserts at most (SQLite allows 32,766 bound values).
const BATCH_ROWS: usize = 500;

static DRIVERS: Once = Once::new();

/// The file a `sqlite://` URL names, when it names one (not `:memory:`).
pub fn sqlite_path(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && path != ":memory:").then_some(path)
}

/// Which backend a URL names.
pub fn backend_of(url: &str) -> Result<Backend, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(Backend::Sqlite)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Backend::Postgres)
    } else {
        Err(StoreError::BadUrl(url.to_owned()))
    }
}

/// Creates the SQLite file readable and writable by its owner only (0600) when it does
/// not exist yet; SQLite gives its journal files the same mode.
fn create_private_file(path: &str) -> Result<(), StoreError> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        o.mode(0o600);
    }
    match o.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(StoreError::CreateFile {
            path: path.to_owned(),
            source,
        }),
    }
}

/// A run as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunRow {
    /// The run id.
    pub id: String,
    /// Its facts.
    #[serde(flatten)]
    pub summary: RunSummary,
    /// When it was published (RFC 3339).
    pub published_at: String,
    /// Its place in publish order (the list's cursor).
    #[serde(skip)]
    pub pk: i64,
}

/// A proof of a stored run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProofRow {
    /// The run it belongs to.
    pub run_id: String,
    /// The proof file's name.
    pub file: String,
    /// The script.
    pub script_id: String,
    /// The script's path.
    pub script_path: String,
    /// The script's digest (the in-toto subject).
    pub script_digest: String,
    /// The digest over its test files.
    pub tests_digest: String,
    /// `PASS` or `FAIL`.
    pub verdict: String,
    /// Tests counted.
    pub tests: i64,
    /// Passed.
    pub passed: i64,
    /// Failed.
    pub failed: i64,
    /// Errors.
    pub errors: i64,
    /// Skipped.
    pub skipped: i64,
    /// When the proof was made.
    pub generated_at: String,
    /// The signer's key id.
    pub keyid: String,
    /// The run's repository.
    pub repository: Option<String>,
    /// The run's commit.
    pub commit: Option<String>,
    /// The run's CI URL.
    pub run_url: Option<String>,
}

/// Filters of the run list.
#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    /// `owner/name`.
    pub repository: Option<String>,
    /// Commit SHA.
    pub commit: Option<String>,
    /// Branch.
    pub branch: Option<String>,
    /// `PASS` or `FAIL`.
    pub verdict: Option<String>,
    /// Runs published before this cursor.
    pub before: Option<i64>,
}

/// Placeholders for `rows` rows of `cols` values: `(?,?),(?,?)` on SQLite, `($1,$2),($3,$4)`
/// on PostgreSQL. SQLite's numbered parameters are looked up by a linear walk for each
/// value bound (`sqlite3_bind_parameter_name`), which makes a statement of n values cost
/// n²; anonymous `?` are bound in order.
fn values_list(backend: Backend, rows: usize, cols: usize) -> String {
    let mut s = String::new();
    for r in 0..rows {
        if r > 0 {
            s.push(',');
        }
        s.push('(');
        for c in 0..cols {
            if c > 0 {
                s.push(',');
            }
            match backend {
                Backend::Sqlite => s.push('?'),
                Backend::Postgres => {
                    s.push('$');
                    s.push_str(&(r * cols + c + 1).to_string());
                }
            }
        }
        s.push(')');
    }
    s
}

fn now_text() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

const RUN_COLUMNS: &str = "pk, id, repository, commit_sha, branch, run_url, verdict, proofs, \
     passed, failed, tests, published_at";

fn run_row(r: &AnyRow) -> Result<RunRow, sqlx::Error> {
    Ok(RunRow {
        pk: r.try_get("pk")?,
        id: r.try_get("id")?,
        summary: RunSummary {
            repository: r.try_get("repository")?,
            commit: r.try_get("commit_sha")?,
            branch: r.try_get("branch")?,
            run_url: r.try_get("run_url")?,
            verdict: r.try_get("verdict")?,
            proofs: r.try_get("proofs")?,
            passed: r.try_get("passed")?,
            failed: r.try_get("failed")?,
            tests: r.try_get("tests")?,
        },
        published_at: r.try_get("published_at")?,
    })
}

const PROOF_COLUMNS: &str = "r.id AS run_id, p.file, p.script_id, p.script_path, \
     p.script_digest, p.tests_digest, p.verdict, p.tests, p.passed, p.failed, p.errors, \
     p.skipped, p.generated_at, p.keyid, r.repository, r.commit_sha, r.run_url";

fn proof_row(r: &AnyRow) -> Result<ProofRow, sqlx::Error> {
    Ok(ProofRow {
        run_id: r.try_get("run_id")?,
        file: r.try_get("file")?,
        script_id: r.try_get("script_id")?,
        script_path: r.try_get("script_path")?,
        script_digest: r.try_get("script_digest")?,
        tests_digest: r.try_get("tests_digest")?,
        verdict: r.try_get("verdict")?,
        tests: r.try_get("tests")?,
        passed: r.try_get("passed")?,
        failed: r.try_get("failed")?,
        errors: r.try_get("errors")?,
        skipped: r.try_get("skipped")?,
        generated_at: r.try_get("generated_at")?,
        keyid: r.try_get("keyid")?,
        repository: r.try_get("repository")?,
        commit: r.try_get("commit_sha")?,
        run_url: r.try_get("run_url")?,
    })
}

/// Checks a tenant name.
pub fn validate_tenant_name(name: &str) -> Result<(), StoreError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(StoreError::BadTenantName(name.to_owned()))
    }
}

/// SQLITE_BUSY (5) or SQLITE_LOCKED (6), with or without an extended code.
fn is_busy(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(d) => d
            .code()
            .and_then(|c| c.parse::<i64>().ok())
            .is_some_and(|c| matches!(c & 0xff, 5 | 6)),
        _ => false,
    }
}

impl Store {
    /// Opens the database at `url` (`sqlite://FILE` or `postgres://…`), creating a SQLite
    /// file 0600 on first start, and applies the migrations.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        DRIVERS.call_once(sqlx::any::install_default_drivers);
        let backend = backend_of(url)?;
        let pool = match backend {
            Backend::Sqlite => {
                if let Some(path) = sqlite_path(url) {
                    create_private_file(path)?;
                }
                AnyPoolOptions::new()
                    .max_connections(8)
                    .acquire_timeout(Duration::from_secs(30))
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            use sqlx::Executor as _;
                            for pragma in [
                                "PRAGMA foreign_keys = ON",
                                "PRAGMA busy_timeout = 10000",
                                "PRAGMA synchronous = NORMAL",
                            ] {
                                conn.execute(pragma).await?;
                            }
                            Ok(())
                        })
                    })
                    .connect(url)
                    .await?
            }
            Backend::Postgres => {
                AnyPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(30))
                    .connect(url)
                    .await?
            }
        };
        let store = Self { pool, backend };
        // A second process opening a new SQLite file at the same moment (the README starts
        // `serve` and runs `tenant add` right after) can be refused with SQLITE_BUSY while
        // the first switches the file to WAL, without SQLite waiting on busy_timeout: try
        // again for a while before giving up.
        let started = std::time::Instant::now();
        loop {
            match store.prepare().await {
                Err(StoreError::Db(e))
                    if backend == Backend::Sqlite
                        && is_busy(&e)
                        && started.elapsed() < Duration::from_secs(10) =>
                {
                    tokio::time::sleep(Duration::from_millis(25)).await;
                }
                other => return other.map(|()| store),
            }
        }
    }

    /// A transaction that will write. On SQLite it starts with `BEGIN IMMEDIATE`: a deferred
    /// transaction that reads first and writes later is refused at once (SQLITE_BUSY, no
    /// wait) when another process wrote in between; taking the write lock first waits on
    /// busy_timeout instead.
    async fn write_tx(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    /// WAL for SQLite, then the migrations.
    async fn prepare(&self) -> Result<(), StoreError> {
        if self.backend == Backend::Sqlite {
            sqlx::raw_sql("PRAGMA journal_mode = WAL")
                .execute(&self.pool)
                .await?;
        }
        self.migrate().await
    }

    /// The database kind.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Applies the migrations this database lacks, in one transaction that one process
    /// holds at a time.
    async fn migrate(&self) -> Result<(), StoreError> {
        // One migrator at a time: `serve` and `tenant add` started together on a new
        // database (the README's setup does exactly that) must not both create the tables.
        // SQLite: `BEGIN IMMEDIATE` takes the write lock before the version is read (the
        // other waits on busy_timeout); PostgreSQL: a transaction-scoped advisory lock.
        let mut conn = self.pool.acquire().await?;
        let begin = match self.backend {
            Backend::Sqlite => "BEGIN IMMEDIATE",
            Backend::Postgres => "BEGIN",
        };
        sqlx::raw_sql(begin).execute(&mut *conn).await?;
        let result = self.migrate_locked(&mut conn).await;
        let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
        let ended = sqlx::raw_sql(end).execute(&mut *conn).await;
        result?;
        ended?;
        Ok(())
    }

    /// The migrations, inside the transaction [`Store::migrate`] opened.
    async fn migrate_locked(&self, conn: &mut sqlx::AnyConnection) -> Result<(), StoreError> {
        if self.backend == Backend::Postgres {
            // Any constant shared by every proofgate process: "proofgat" in ASCII.
            sqlx::raw_sql("SELECT pg_advisory_xact_lock(8102940613561722228)")
                .execute(&mut *conn)
                .await?;
        }
        sqlx::raw_sql(schema::MIGRATIONS_TABLE)
            .execute(&mut *conn)
            .await?;
        let current: i64 =
            sqlx::query("SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations")
                .fetch_one(&mut *conn)
                .await?
                .try_get("v")?;
        if current > schema::latest_version() {
            return Err(StoreError::SchemaTooNew {
                found: current,
                known: schema::latest_version(),
            });
        }
        for m in schema::migrations() {
            if m.version <= current {
                continue;
            }
            sqlx::raw_sql(m.sql(self.backend))
                .execute(&mut *conn)
                .await?;
            sqlx::query(
                "INSERT INTO schema_migrations (version, description, applied_at) VALUES ($1, $2, $3)",
            )
            .bind(m.version)
            .bind(m.description)
            .bind(now_text())
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
    }

    /// Creates a tenant and its publish and read tokens (returned once; only their
    /// hashes are stored).
    pub async fn add_tenant(&self, name: &str) -> Result<(NewToken, NewToken), StoreError> {
        validate_tenant_name(name)?;
        let publish = token::generate()?;
        let read = token::generate()?;
        let mut tx = self.write_tx().await?;
        let exists = sqlx::query("SELECT name FROM tenants WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if exists {
            return Err(StoreError::TenantExists(name.to_owned()));
        }
        let now = now_text();
        sqlx::query("INSERT INTO tenants (name, created_at) VALUES ($1, $2)")
            .bind(name)
            .bind(&now)
            .execute(&mut *tx)
            .await?;
        for (t, role) in [(&publish, Role::Publish), (&read, Role::Read)] {
            sqlx::query(
                "INSERT INTO tokens (id, tenant, role, secret_hash, created_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&t.id)
            .bind(name)
            .bind(role.as_str())
            .bind(&t.hash)
            .bind(&now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok((publish, read))
    }

    /// Trusts `key` for the tenant's publishes; returns its key id.
    pub async fn trust(&self, tenant: &str, key: &PublicKey) -> Result<String, StoreError> {
        self.require_tenant(tenant).await?;
        let key_id = key.key_id().as_str().to_owned();
        let known =
            sqlx::query("SELECT key_id FROM trusted_keys WHERE tenant = $1 AND key_id = $2")
                .bind(tenant)
                .bind(&key_id)
                .fetch_optional(&self.pool)
                .await?
                .is_some();
        if !known {
            sqlx::query(
                "INSERT INTO trusted_keys (tenant, key_id, public_key, created_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(tenant)
            .bind(&key_id)
            .bind(key.to_base64())
            .bind(now_text())
            .execute(&self.pool)
            .await?;
        }
        Ok(key_id)
    }

    async fn require_tenant(&self, tenant: &str) -> Result<(), StoreError> {
        let found = sqlx::query("SELECT name FROM tenants WHERE name = $1")
            .bind(tenant)
            .fetch_optional(&self.pool)
            .await?
            .is_some();
        if found {
            Ok(())
        } else {
            Err(StoreError::NoTenant(tenant.to_owned()))
        }
    }

    /// The tenant's trusted keys.
    pub async fn trusted_keys(&self, tenant: &str) -> Result<Vec<PublicKey>, StoreError> {
        let rows =
            sqlx::query("SELECT public_key FROM trusted_keys WHERE tenant = $1 ORDER BY key_id")
                .bind(tenant)
                .fetch_all(&self.pool)
                .await?;
        let mut keys = Vec::with_capacity(rows.len());
        for r in rows {
            let text: String = r.try_get("public_key")?;
            keys.push(PublicKey::parse(&text).map_err(|_| StoreError::BadKey(text))?);
        }
        Ok(keys)
    }

    /// The tenant and role of a presented token; `None` when it is not a valid token.
    pub async fn authenticate(
        &self,
        presented: &str,
    ) -> Result<Option<(String, Role)>, StoreError> {
        let Some((id, secret)) = token::split(presented) else {
            return Ok(None);
        };
        let row = sqlx::query("SELECT tenant, role, secret_hash FROM tokens WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else {
            // Spend the same hashing work as a known id would.
            let _ = token::matches(secret, "");
            return Ok(None);
        };
        let stored: String = row.try_get("secret_hash")?;
        if !token::matches(secret, &stored) {
            return Ok(None);
        }
        let role: String = row.try_get("role")?;
        Ok(Role::parse(&role).map(|r| (row.try_get("tenant").unwrap_or_default(), r)))
    }

    /// Stores a checked run for the tenant, all or nothing, in one transaction. Returns
    /// the run id and whether it was new (publishing the same files again finds the
    /// stored run).
    pub async fn publish(
        &self,
        tenant: &str,
        run: &CheckedRun,
    ) -> Result<(String, bool), StoreError> {
        if self.run(tenant, &run.id).await?.is_some() {
            return Ok((run.id.clone(), false));
        }
        match self.insert_run(tenant, run).await {
            Ok(()) => Ok((run.id.clone(), true)),
            // Another publish of the same files won the race.
            Err(e) if self.run(tenant, &run.id).await?.is_some() => {
                drop(e);
                Ok((run.id.clone(), false))
            }
            Err(e) => Err(e),
        }
    }

    async fn insert_run(&self, tenant: &str, run: &CheckedRun) -> Result<(), StoreError> {
        let s = &run.summary;
        let mut tx = self.write_tx().await?;
        let pk: i64 = sqlx::query(
            "INSERT INTO runs (tenant, id, repository, commit_sha, branch, run_url, verdict, \
             proofs, passed, failed, tests, published_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING pk",
        )
        .bind(tenant)
        .bind(&run.id)
        .bind(s.repository.as_deref())
        .bind(s.commit.as_deref())
        .bind(s.branch.as_deref())
        .bind(s.run_url.as_deref())
        .bind(&s.verdict)
        .bind(s.proofs)
        .bind(s.passed)
        .bind(s.failed)
        .bind(s.tests)
        .bind(now_text())
        .fetch_one(&mut *tx)
        .await?
        .try_get("pk")?;
        let files: Vec<(&String, &Vec<u8>)> = run.files.iter().collect();
        for chunk in files.chunks(BATCH_ROWS) {
            let sql = format!(
                "INSERT INTO run_files (run_pk, name, content) VALUES {}",
                values_list(self.backend, chunk.len(), 3)
            );
            let mut q = sqlx::query(&sql);
            for (name, content) in chunk {
                q = q.bind(pk).bind(name.as_str()).bind(content.as_slice());
            }
            q.execute(&mut *tx).await?;
        }
        for chunk in run.proofs.chunks(BATCH_ROWS / 2) {
            let sql = format!(
                "INSERT INTO proofs (run_pk, tenant, file, script_id, script_path, script_digest, \
                 tests_digest, verdict, tests, passed, failed, errors, skipped, generated_at, keyid) \
                 VALUES {}",
                values_list(self.backend, chunk.len(), 15)
            );
            let mut q = sqlx::query(&sql);
            for p in chunk {
                let t = &p.proof.test_summary;
                q = q
                    .bind(pk)
                    .bind(tenant)
                    .bind(p.file.as_str())
                    .bind(p.proof.script_id.as_str())
                    .bind(p.proof.script_path.as_str())
                    .bind(p.proof.script_digest.to_string())
                    .bind(p.proof.tests_digest.to_string())
                    .bind(p.proof.verdict.as_str())
                    .bind(t.total as i64)
                    .bind(t.passed as i64)
                    .bind(t.failed as i64)
                    .bind(t.errors as i64)
                    .bind(t.skipped as i64)
                    .bind(p.proof.generated_at.as_str())
                    .bind(p.keyid.as_str());
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The tenant's runs, newest first, at most `limit`.
    pub async fn list_runs(
        &self,
        tenant: &str,
        filter: &RunFilter,
        limit: i64,
    ) -> Result<Vec<RunRow>, StoreError> {
        let mut sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE tenant = $1");
        let mut texts: Vec<&str> = Vec::new();
        for (col, v) in [
            ("repository", &filter.repository),
            ("commit_sha", &filter.commit),
            ("branch", &filter.branch),
            ("verdict", &filter.verdict),
        ] {
            if let Some(v) = v {
                texts.push(v);
                sql.push_str(&format!(" AND {col} = ${}", texts.len() + 1));
            }
        }
        if filter.before.is_some() {
            sql.push_str(&format!(" AND pk < ${}", texts.len() + 2));
        }
        sql.push_str(" ORDER BY pk DESC LIMIT ");
        sql.push_str(&limit.clamp(1, 1000).to_string());
        let mut q = sqlx::query(&sql).bind(tenant);
        for t in texts {
            q = q.bind(t);
        }
        if let Some(b) = filter.before {
            q = q.bind(b);
        }
        let rows = q.fetch_all(&self.pool).await?;
        Ok(rows.iter().map(run_row).collect::<Result<_, _>>()?)
    }

    /// One of the tenant's runs.
    pub async fn run(&self, tenant: &str, id: &str) -> Result<Option<RunRow>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE tenant = $1 AND id = $2"
        ))
        .bind(tenant)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(run_row).transpose()?)
    }

    /// One file of one of the tenant's runs, bytes as published.
    pub async fn run_file(
        &self,
        tenant: &str,
        id: &str,
        name: &str,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let row = sqlx::query(
            "SELECT f.content FROM run_files f JOIN runs r ON r.pk = f.run_pk \
             WHERE r.tenant = $1 AND r.id = $2 AND f.name = $3",
        )
        .bind(tenant)
        .bind(id)
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| r.try_get("content")).transpose()?)
    }

    /// Every file of one of the tenant's runs.
    pub async fn run_files(
        &self,
        tenant: &str,
        id: &str,
    ) -> Result<BTreeMap<String, Vec<u8>>, StoreError> {
        let rows = sqlx::query(
            "SELECT f.name, f.content FROM run_files f JOIN runs r ON r.pk = f.run_pk \
             WHERE r.tenant = $1 AND r.id = $2",
        )
        .bind(tenant)
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        let mut out = BTreeMap::new();
        for r in rows {
            out.insert(r.try_get("name")?, r.try_get("content")?);
        }
        Ok(out)
    }

    /// The proofs of one of the tenant's runs, by file name.
    pub async fn run_proofs(&self, tenant: &str, id: &str) -> Result<Vec<ProofRow>, StoreError> {
        self.proofs_where("r.id = $2 ORDER BY p.file", tenant, id)
            .await
    }

    /// A script's proofs across the tenant's runs, newest run first.
    pub async fn script_history(
        &self,
        tenant: &str,
        script_id: &str,
        limit: i64,
    ) -> Result<Vec<ProofRow>, StoreError> {
        let tail = format!(
            "p.script_id = $2 ORDER BY r.pk DESC, p.file LIMIT {}",
            limit.clamp(1, 1000)
        );
        self.proofs_where(&tail, tenant, script_id).await
    }

    /// The bytes of a script's proofs across the tenant's runs, newest run first (the
    /// rows of [`Store::script_history`]), each with its run id and file name.
    pub async fn script_history_proofs(
        &self,
        tenant: &str,
        script_id: &str,
        limit: i64,
    ) -> Result<Vec<(String, String, Vec<u8>)>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT r.id, p.file, f.content FROM proofs p JOIN runs r ON r.pk = p.run_pk \
             JOIN run_files f ON f.run_pk = p.run_pk AND f.name = p.file \
             WHERE p.tenant = $1 AND r.tenant = $1 AND p.script_id = $2 \
             ORDER BY r.pk DESC, p.file LIMIT {}",
            limit.clamp(1, 1000)
        ))
        .bind(tenant)
        .bind(script_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get("file")?, r.try_get("content")?)))
            .collect()
    }

    /// The tenant's proofs whose in-toto subject has digest `subject` (`sha256:<hex>`).
    pub async fn proofs_by_subject(
        &self,
        tenant: &str,
        subject: &str,
        limit: i64,
    ) -> Result<Vec<ProofRow>, StoreError> {
        let tail = format!(
            "p.script_digest = $2 ORDER BY r.pk DESC, p.file LIMIT {}",
            limit.clamp(1, 1000)
        );
        self.proofs_where(&tail, tenant, subject).await
    }

    /// The tenant's proof rows (joined with their runs, both of the tenant) that match
    /// `condition` on `$2`;
    /// `condition` also orders and limits. It is written here, never from request text.
    async fn proofs_where(
        &self,
        condition: &str,
        tenant: &str,
        value: &str,
    ) -> Result<Vec<ProofRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {PROOF_COLUMNS} FROM proofs p JOIN runs r ON r.pk = p.run_pk \
             WHERE p.tenant = $1 AND r.tenant = $1 AND {condition}"
        ))
        .bind(tenant)
        .bind(value)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(proof_row).collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_lists_number_placeholders_in_order() {
        assert_eq!(values_list(Backend::Postgres, 2, 2), "($1,$2),($3,$4)");
        assert_eq!(values_list(Backend::Sqlite, 2, 2), "(?,?),(?,?)");
    }

    #[test]
    fn urls_name_their_backend_and_file() {
        assert_eq!(backend_of("sqlite://x.db").unwrap(), Backend::Sqlite);
        assert_eq!(backend_of("postgres://h/db").unwrap(), Backend::Postgres);
        assert!(backend_of("mysql://h").is_err());
        assert_eq!(sqlite_path("sqlite://a/b.db?mode=rwc"), Some("a/b.db"));
        assert_eq!(sqlite_path("sqlite://:memory:"), None);
    }

    #[test]
    fn tenant_names_are_checked() {
        assert!(validate_tenant_name("acme-1.x").is_ok());
        for bad in ["", "-a", "a/b", "a b", &"x".repeat(65)] {
            assert!(validate_tenant_name(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn the_database_file_is_created_owner_only_and_migrated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let url = format!("sqlite://{}", path.display());
        let store = Store::open(&url).await.unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let (p, r) = store.add_tenant("acme").await.unwrap();
        let (t, role) = store.authenticate(&p.token).await.unwrap().unwrap();
        assert_eq!((t.as_str(), role), ("acme", Role::Publish));
        assert_eq!(
            store.authenticate(&r.token).await.unwrap().unwrap().1,
            Role::Read
        );
        let mut forged = p.token.clone();
        let last = forged.pop().unwrap();
        forged.push(if last == 'A' { 'B' } else { 'A' });
        assert!(store.authenticate(&forged).await.unwrap().is_none());
        assert!(matches!(
            store.add_tenant("acme").await,
            Err(StoreError::TenantExists(_))
        ));
        store.close().await;
        // A second start finds the schema applied.
        Store::open(&url).await.unwrap().close().await;
    }
}
