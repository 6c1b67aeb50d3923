//! Ownership of a tenant's routing: the lease that lets exactly one server at a time drive
//! the routing engine over a shared database. Times are the servers' own clocks (kept in
//! step by NTP); a lease is taken only when it is free, expired, or already the taker's.

use crate::{Result, Store, exec, fetch, fetch_written};

/// Who owns a tenant, and until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// The owning server's node name.
    pub node: String,
    /// When the lease runs out unless renewed (ms since the epoch).
    pub expires_ms: i64,
}

impl Store {
    /// Takes or renews `tenant`'s lease for `node` until `until_ms`: granted when nobody
    /// holds it, when it expired by `now_ms`, or when `node` holds it already. Answers
    /// whether it was granted, and the owner after the attempt.
    pub async fn claim_owner(
        &self,
        tenant: &str,
        node: &str,
        now_ms: i64,
        until_ms: i64,
    ) -> Result<(bool, Owner)> {
        loop {
            // One statement: two servers claiming at once cannot both win.
            let granted: Option<String> = fetch_written!(
                self,
                fetch_optional,
                sqlx::query_scalar(
                    "INSERT INTO owners (tenant, node, expires_ms) VALUES ($1, $2, $4) \
                     ON CONFLICT (tenant) DO UPDATE SET node = excluded.node, \
                     expires_ms = excluded.expires_ms \
                     WHERE owners.node = excluded.node OR owners.expires_ms <= $3 \
                     RETURNING node"
                )
                .bind(tenant)
                .bind(node)
                .bind(now_ms)
                .bind(until_ms)
            )?;
            let owner: Option<(String, i64)> = fetch!(
                self,
                fetch_optional,
                sqlx::query_as("SELECT node, expires_ms FROM owners WHERE tenant = $1")
                    .bind(tenant)
            )?;
            // None: the holder released the lease between the two statements; it is
            // free, so claim it again.
            if let Some((node, expires_ms)) = owner {
                return Ok((granted.is_some(), Owner { node, expires_ms }));
            }
        }
    }

    /// `node` gives up `tenant`'s lease (if it still holds it), so that a server waiting
    /// for it takes over at once.
    pub async fn release_owner(&self, tenant: &str, node: &str) -> Result<()> {
        exec!(
            self,
            sqlx::query("DELETE FROM owners WHERE tenant = $1 AND node = $2")
                .bind(tenant)
                .bind(node)
        )?;
        Ok(())
    }
}
