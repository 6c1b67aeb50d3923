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

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

pub use contacts::{
    Callback, Contact, ContactFilter, ContactStatus, Event, Line, NewContact, WrapUp,
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
        Store::connect(options, 4).await
    }

    /// A private in-memory database (tests, dry runs).
    pub async fn memory() -> Result<Store> {
        let options = SqliteConnectOptions::from_str("sqlite::memory:")?.foreign_keys(true);
        // One connection: every connection to `:memory:` would be its own database.
        Store::connect(options, 1).await
    }

    async fn connect(options: SqliteConnectOptions, connections: u32) -> Result<Store> {
        let pool = SqlitePoolOptions::new()
            .max_connections(connections)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(Store { pool })
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
