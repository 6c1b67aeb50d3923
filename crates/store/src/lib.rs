//! Switchboard's persistence: the schema (embedded migrations) and one repository method
//! per question the server asks, over SQLite in WAL mode.
//!
//! Only this crate knows SQL. Statements stay within what SQLite and PostgreSQL share
//! (BIGINT milliseconds, TEXT JSON documents, `RETURNING`), so that a PostgreSQL backend is
//! a second pool type rather than a redesign; full-text search is the one place that differs
//! (FTS5 here).

mod contacts;
mod customers;
mod directory;
mod knowledge;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

pub use contacts::{
    CallLeg, Callback, Contact, ContactFilter, ContactStatus, Event, Line, NewContact, WrapUp,
};
pub use customers::{Case, Customer, NewCustomer};
pub use directory::{FlowVersion, Role, Token, User};
pub use knowledge::{Article, NewArticle};

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
}

/// Shorthand.
pub type Result<T> = std::result::Result<T, StoreError>;

/// The database: a connection pool with the schema migrated.
#[derive(Clone, Debug)]
pub struct Store {
    pool: SqlitePool,
    options: SqliteConnectOptions,
    /// The write-ahead log of a database file (none in memory), for [`Store::sync`].
    wal: Option<PathBuf>,
}

impl Store {
    /// Opens (creating if needed) the SQLite database at `path`, in WAL mode with foreign
    /// keys on and synchronous=FULL (a committed write survives power loss), and migrates it.
    pub async fn open(path: &Path) -> Result<Store> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(sqlx::sqlite::SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        Store::connect(options, 4, Some(wal.into())).await
    }

    /// A private in-memory database (tests, dry runs).
    pub async fn memory() -> Result<Store> {
        let options = SqliteConnectOptions::from_str("sqlite::memory:")?.foreign_keys(true);
        // One connection: every connection to `:memory:` would be its own database.
        Store::connect(options, 1, None).await
    }

    async fn connect(
        options: SqliteConnectOptions,
        connections: u32,
        wal: Option<PathBuf>,
    ) -> Result<Store> {
        let pool = SqlitePoolOptions::new()
            .max_connections(connections)
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(Store { pool, options, wal })
    }

    /// A store for one writer that commits in groups: one connection whose commits are
    /// not flushed to disk one by one (synchronous=NORMAL), made durable together by
    /// [`Store::sync`]. Other connections keep synchronous=FULL. (In memory: this store.)
    pub async fn group_writer(&self) -> Result<Store> {
        if self.wal.is_none() {
            return Ok(self.clone());
        }
        let options = self
            .options
            .clone()
            .synchronous(sqlx::sqlite::SqliteSynchronous::Normal);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await?;
        Ok(Store {
            pool,
            options,
            wal: self.wal.clone(),
        })
    }

    /// Makes every commit so far durable: flushes the write-ahead log to disk, as
    /// synchronous=FULL does after each commit (checkpoints flush it themselves first).
    pub async fn sync(&self) -> Result<()> {
        let Some(wal) = self.wal.clone() else {
            return Ok(());
        };
        let synced = tokio::task::spawn_blocking(move || match std::fs::File::open(&wal) {
            Ok(f) => f.sync_data(),
            // Nothing written yet.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        })
        .await
        .map_err(std::io::Error::other)
        .and_then(|r| r);
        synced.map_err(|e| StoreError::Io(e.to_string()))
    }

    /// Whether the database answers (for `/healthz`).
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Closes the pool, waiting for connections to finish.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Reads a JSON column.
fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T> {
    Ok(serde_json::from_str(text)?)
}
