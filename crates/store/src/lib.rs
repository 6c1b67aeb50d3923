//! Switchboard's persistence: the schema (embedded migrations) and one repository method
//! per question the server asks, over SQLite in WAL mode (the embedded default) or
//! PostgreSQL (several nodes sharing one database).
//!
//! Only this crate knows SQL. Statements stay within what SQLite and PostgreSQL share
//! (BIGINT milliseconds, TEXT JSON documents, `$n` parameters, `RETURNING`,
//! `ON CONFLICT`), and each method's statement text is the same on both: `on_pool!` runs
//! it on whichever pool the store has, with the native driver's types. Knowledge-base
//! search is the one statement that differs (FTS5 there, a tsvector here).
//!
//! Each database has its own migrations (`migrations/sqlite`, `migrations/postgres`): a
//! change to the schema is a new file in both.
//!
//! Architecture invariant: on a SQLite file, the server's connections write in turn
//! ([`Store::turn`]): a statement that writes on the pool, or a group writer's whole
//! transaction, first waits for a first-come, first-served lock, and none holds it while
//! flushing to disk. The pool's writes line up for it one at a time, so a group waits
//! for at most one of them. SQLite lets one connection write at a time and makes the
//! others retry on a timer that backs off to 100 ms, which, against a group's transaction
//! held open while the owner works, starved the pool's writes for seconds. So every
//! connection commits without flushing (synchronous=NORMAL), and a write returns only
//! after a flush of the write-ahead log that began after its commit: flushes that overlap
//! are shared ([`Store::sync`]), and a commit is as durable when it returns as with
//! synchronous=FULL.

mod contacts;
mod customers;
mod directory;
mod knowledge;
mod owners;
mod writes;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use sqlx::{ConnectOptions, Connection};

pub use contacts::{
    CallLeg, Callback, Contact, ContactFilter, ContactStatus, EVENTS_PER_STATEMENT, Event, Line,
    NewContact, NewEvent, WrapUp,
};
pub use customers::{Case, Customer, NewCustomer};
pub use directory::{FlowVersion, Role, Token, User};
pub use knowledge::{Article, NewArticle};
pub use owners::Owner;
pub use writes::{WRITES_PER_STATEMENT, Write};

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused or failed.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// A migration failed.
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored JSON document could not be read.
    #[error("stored document: {0}")]
    Json(#[from] serde_json::Error),
    /// Flushing the database to disk failed.
    #[error("sync: {0}")]
    Io(String),
    /// The row asked for does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The request conflicts with what is stored.
    #[error("{0}")]
    Conflict(String),
    /// The database was not given correctly.
    #[error("{0}")]
    Config(String),
}

/// Shorthand.
pub type Result<T> = std::result::Result<T, StoreError>;

/// The database: a connection pool with the schema migrated.
#[derive(Clone, Debug)]
pub struct Store {
    pool: Pool,
    mode: Mode,
}

/// The pool of either database.
#[derive(Clone, Debug)]
enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// How a store's commits become durable: what [`Store::group_writer`] opens and what
/// [`Store::sync`] does.
#[derive(Clone, Debug)]
enum Mode {
    /// In memory: nothing to flush; the group writer is the store itself.
    Memory,
    /// A SQLite file in WAL mode; `wal` is its write-ahead log, flushed by `sync` after
    /// every write.
    SqliteFile {
        options: SqliteConnectOptions,
        wal: PathBuf,
        writers: Arc<Writers>,
    },
    /// The group writer of a SQLite file: one connection, synchronous=NORMAL; a group's
    /// writes share one transaction ([`Store::begin_group`], [`Store::commit_group`]),
    /// which holds the file's turn to write (`held`) until it ends.
    SqliteGroup {
        wal: PathBuf,
        writers: Arc<Writers>,
        held: Arc<std::sync::Mutex<Option<tokio::sync::OwnedMutexGuard<()>>>>,
    },
    /// PostgreSQL, each commit durable when it returns.
    Postgres { options: PgConnectOptions },
    /// A PostgreSQL group writer: commits return before they are flushed
    /// (`synchronous_commit = off`) until `sync`.
    PostgresGroup,
}

/// What the connections writing to one SQLite file (its pool and its group writer) share.
#[derive(Debug, Default)]
struct Writers {
    /// The turn to write, first come, first served.
    turn: Arc<tokio::sync::Mutex<()>>,
    /// Held by the pool's writer that is next in line for the turn.
    line: tokio::sync::Mutex<()>,
    /// Commits so far that asked for a flush (numbered after they committed).
    commits: std::sync::atomic::AtomicU64,
    /// Held while flushing the write-ahead log; the last commit the latest flush covered.
    flushed: tokio::sync::Mutex<u64>,
}

/// Evaluates `$body` with `$p` bound to the store's pool, whichever database it is: the
/// body is compiled once per database, each with its native driver's types, and both arms
/// must give the same type (so `exec!` turns `execute` results into row counts).
macro_rules! on_pool {
    ($store:expr, |$p:ident| $body:expr) => {
        match &$store.pool {
            $crate::Pool::Sqlite($p) => $body,
            $crate::Pool::Postgres($p) => $body,
        }
    };
}

/// Executes a statement built by `$query` on the store's pool, in the store's turn to
/// write, and returns once it is durable; answers the rows affected.
macro_rules! exec {
    ($store:expr, $query:expr) => {{
        let done = {
            let _turn = $store.turn().await;
            $crate::on_pool!($store, |p| $query
                .execute(p)
                .await
                .map(|done| done.rows_affected()))
        };
        $store.durable(done).await
    }};
}

/// Runs a query built by `$query` with `$fetch` (`fetch_one`, `fetch_all`,
/// `fetch_optional`) on the store's pool.
macro_rules! fetch {
    ($store:expr, $fetch:ident, $query:expr) => {
        $crate::on_pool!($store, |p| $query.$fetch(p).await)
    };
}

/// [`fetch!`] for a statement that writes (`INSERT … RETURNING`, `UPDATE … RETURNING`):
/// in the store's turn to write.
macro_rules! fetch_written {
    ($store:expr, $fetch:ident, $query:expr) => {{
        let done = {
            let _turn = $store.turn().await;
            $crate::fetch!($store, $fetch, $query)
        };
        $store.durable(done).await
    }};
}

pub(crate) use {exec, fetch, fetch_written, on_pool};

impl Store {
    /// Opens (creating if needed) the SQLite database at `path`, in WAL mode with foreign
    /// keys on, and migrates it. A write returns once it survives power loss: its
    /// connection commits with synchronous=NORMAL, then the write-ahead log is flushed.
    pub async fn open(path: &Path) -> Result<Store> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        let mode = Mode::SqliteFile {
            options: options.clone(),
            wal: wal.into(),
            writers: Arc::default(),
        };
        let store = Store::open_sqlite(options, 4, mode).await?;
        // The migrations' commits were not flushed.
        store.sync().await?;
        Ok(store)
    }

    /// A private in-memory database (tests, dry runs).
    pub async fn memory() -> Result<Store> {
        let options = SqliteConnectOptions::from_str("sqlite::memory:")?.foreign_keys(true);
        // One connection: every connection to `:memory:` would be its own database.
        Store::open_sqlite(options, 1, Mode::Memory).await
    }

    async fn open_sqlite(
        options: SqliteConnectOptions,
        connections: u32,
        mode: Mode,
    ) -> Result<Store> {
        let pool = SqlitePoolOptions::new()
            .max_connections(connections)
            // An embedded database's connection cannot be lost, so the ping a pool sends
            // before lending one out is only a wasted round trip to the database's thread.
            .test_before_acquire(false)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        Ok(Store {
            pool: Pool::Sqlite(pool),
            mode,
        })
    }

    /// Connects to the PostgreSQL database at `url` (`postgres://user:password@host/db`;
    /// libpq's `PG*` environment variables fill in what it leaves out) and migrates it.
    /// Several servers may share it: migrations take an advisory lock.
    pub async fn connect(url: &str) -> Result<Store> {
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(StoreError::Config(format!(
                "unsupported database URL {}: give a postgres:// URL (without one, the \
                 SQLite file in the data directory is used)",
                redact(url)
            )));
        }
        let options = PgConnectOptions::from_str(url)?;
        // One connection first, so that a wrong address, database or password is reported
        // as such at once (the pool would retry until its time-out, then say only that).
        let cannot = |e: sqlx::Error| StoreError::Config(format!("{}: {e}", redact(url)));
        options
            .connect()
            .await
            .map_err(cannot)?
            .close()
            .await
            .map_err(cannot)?;
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(Store {
            pool: Pool::Postgres(pool),
            mode: Mode::Postgres { options },
        })
    }

    /// Which database this is: `sqlite` or `postgres`.
    pub fn backend(&self) -> &'static str {
        match self.pool {
            Pool::Sqlite(_) => "sqlite",
            Pool::Postgres(_) => "postgres",
        }
    }

    /// A store for one writer that commits in groups: one connection whose commits are
    /// not flushed to disk one by one, made durable together by [`Store::sync`]. On a
    /// SQLite file (whose pool flushes after each write) a group's writes can share one
    /// transaction ([`Store::begin_group`]); on PostgreSQL it runs with
    /// `synchronous_commit = off`. (In memory: this store.)
    pub async fn group_writer(&self) -> Result<Store> {
        match &self.mode {
            Mode::Memory | Mode::PostgresGroup | Mode::SqliteGroup { .. } => Ok(self.clone()),
            Mode::SqliteFile {
                options,
                wal,
                writers,
            } => {
                // The one connection is kept for good: closing it (as a pool does with
                // old or idle ones) would roll back a group's open transaction.
                let pool = SqlitePoolOptions::new()
                    .max_connections(1)
                    .min_connections(1)
                    .max_lifetime(None)
                    .idle_timeout(None)
                    .test_before_acquire(false)
                    // A statement's rows and a statement list's results come back
                    // through a buffer: room for a whole group's, so the database's
                    // thread does not wait for the owner to read them.
                    .connect_with(options.clone().row_buffer_size(EVENTS_PER_STATEMENT))
                    .await?;
                Ok(Store {
                    pool: Pool::Sqlite(pool),
                    mode: Mode::SqliteGroup {
                        wal: wal.clone(),
                        writers: writers.clone(),
                        held: Arc::default(),
                    },
                })
            }
            Mode::Postgres { options } => {
                let options = options.clone().options([("synchronous_commit", "off")]);
                let pool = PgPoolOptions::new()
                    .max_connections(1)
                    .connect_with(options)
                    .await?;
                Ok(Store {
                    pool: Pool::Postgres(pool),
                    mode: Mode::PostgresGroup,
                })
            }
        }
    }

    /// Makes every commit so far durable. On a SQLite file: flushes the write-ahead log to
    /// disk, as synchronous=FULL does after each commit (checkpoints flush it themselves
    /// first); a flush that began after this call's commits covers them, so callers that
    /// overlap share one. On a PostgreSQL group writer: commits one transaction
    /// synchronously, which returns once the log is flushed up to it, and so past every
    /// earlier commit (the log is written in order). Nothing to do otherwise.
    pub async fn sync(&self) -> Result<()> {
        let (wal, writers) = match (&self.mode, &self.pool) {
            (Mode::SqliteFile { wal, writers, .. } | Mode::SqliteGroup { wal, writers, .. }, _) => {
                (wal.clone(), writers)
            }
            (Mode::PostgresGroup, Pool::Postgres(p)) => {
                let mut tx = p.begin().await?;
                sqlx::query("SET LOCAL synchronous_commit = on")
                    .execute(&mut *tx)
                    .await?;
                // A transaction id: without one there is no commit record to wait for.
                sqlx::query("SELECT pg_current_xact_id()")
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                return Ok(());
            }
            _ => return Ok(()),
        };
        let mine = writers.commits.fetch_add(1, Ordering::SeqCst) + 1;
        let mut flushed = writers.flushed.lock().await;
        if *flushed >= mine {
            return Ok(());
        }
        // Every commit numbered so far came before this flush begins.
        let covers = writers.commits.load(Ordering::SeqCst);
        let synced = tokio::task::spawn_blocking(move || match std::fs::File::open(&wal) {
            Ok(f) => f.sync_data(),
            // Nothing written yet.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        })
        .await
        .map_err(std::io::Error::other)
        .and_then(|r| r);
        synced.map_err(|e| StoreError::Io(e.to_string()))?;
        *flushed = covers;
        Ok(())
    }

    /// Opens a group's transaction on a SQLite group writer, so that the group's writes
    /// are committed together by [`Store::commit_group`] (one write of each page touched,
    /// instead of one per statement). It takes the write lock at once: a transaction
    /// that read first could not write if another connection wrote meanwhile. The
    /// transaction holds the file's turn to write ([`Store::turn`]) until it ends. Answers
    /// whether one was opened (elsewhere each statement commits by itself).
    pub async fn begin_group(&self) -> Result<bool> {
        match (&self.mode, &self.pool) {
            (Mode::SqliteGroup { writers, held, .. }, Pool::Sqlite(p)) => {
                let turn = writers.turn.clone().lock_owned().await;
                sqlx::query("BEGIN IMMEDIATE").execute(p).await?;
                *held.lock().expect("not poisoned") = Some(turn);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Commits the transaction [`Store::begin_group`] opened; if the commit fails, the
    /// group's writes are rolled back (and the error answered).
    pub async fn commit_group(&self) -> Result<()> {
        let Pool::Sqlite(p) = &self.pool else {
            return Ok(());
        };
        let done = match sqlx::query("COMMIT").execute(p).await {
            Ok(_) => Ok(()),
            Err(e) => {
                let _ = sqlx::query("ROLLBACK").execute(p).await;
                Err(e.into())
            }
        };
        if let Mode::SqliteGroup { held, .. } = &self.mode {
            held.lock().expect("not poisoned").take();
        }
        done
    }

    /// Waits for this store's turn to write to its SQLite file: first come, first served
    /// among the pool's writers, and behind at most one group of the group writer. The
    /// turn lasts until the answer is dropped. Nothing to wait for elsewhere: PostgreSQL
    /// locks rows, not the database; in memory there is one connection; and a group
    /// writer's statements run inside its group's turn ([`Store::begin_group`]).
    pub(crate) async fn turn(&self) -> Option<[tokio::sync::MutexGuard<'_, ()>; 2]> {
        match &self.mode {
            Mode::SqliteFile { writers, .. } => {
                let line = writers.line.lock().await;
                Some([line, writers.turn.lock().await])
            }
            _ => None,
        }
    }

    /// Answers a pool statement's result once what it wrote is durable (on a SQLite file,
    /// after a flush of the write-ahead log: see [`Store::sync`]).
    pub(crate) async fn durable<T>(
        &self,
        done: std::result::Result<T, sqlx::Error>,
    ) -> std::result::Result<T, sqlx::Error> {
        let done = done?;
        self.written().await.map_err(|e| match e {
            StoreError::Db(e) => e,
            e => sqlx::Error::Io(std::io::Error::other(e.to_string())),
        })?;
        Ok(done)
    }

    /// Returns once what the pool has written is durable (see [`Store::durable`]).
    pub(crate) async fn written(&self) -> Result<()> {
        match self.mode {
            Mode::SqliteFile { .. } => self.sync().await,
            _ => Ok(()),
        }
    }

    /// Whether the database answers (for `/healthz`).
    pub async fn ping(&self) -> Result<()> {
        exec!(self, sqlx::query("SELECT 1"))?;
        Ok(())
    }

    /// Closes the pool, waiting for connections to finish.
    pub async fn close(&self) {
        on_pool!(self, |p| p.close().await);
    }
}

/// Creates database `name` on the PostgreSQL server at `server_url` (a URL of any database
/// there, as a user who may create databases) and answers the new database's URL. For
/// setting up: `switchboard`'s tests give each server a database of its own this way.
pub async fn create_postgres_database(server_url: &str, name: &str) -> Result<String> {
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(StoreError::Config(format!(
            "database name {name:?}: use letters, digits and _"
        )));
    }
    let options = PgConnectOptions::from_str(server_url)?;
    let mut conn = options.connect().await?;
    sqlx::query(&format!("CREATE DATABASE \"{name}\""))
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    Ok(options.database(name).to_url_lossy().to_string())
}

/// `url` with its password hidden, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let user = url[scheme + 3..at].split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_string(),
    }
}

/// Reads a JSON column.
fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T> {
    Ok(serde_json::from_str(text)?)
}
