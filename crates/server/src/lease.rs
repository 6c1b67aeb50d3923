//! One owner at a time: servers that share a database (PostgreSQL, or one SQLite file)
//! agree through a lease in it on which of them drives the routing engine. A server waits
//! (standby) until the lease is free, renews it every third of its length while it runs,
//! releases it when it stops, and stops by itself if it ever loses it, so that no two
//! servers route the same contacts. Switchboard serves one tenant per database for now,
//! named [`TENANT`]; the lease is kept per tenant so that more can follow.

use std::time::Duration;

use switchboard_store::Store;

use crate::runtime::now_ms;

/// The tenant a server serves.
pub const TENANT: &str = "default";

/// This server's node name: the configured one, or `HOST-PID` (the host name and the
/// process id).
pub fn node_name(configured: Option<&str>) -> String {
    match configured {
        Some(name) => name.to_string(),
        None => format!("{}-{}", host(), std::process::id()),
    }
}

fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "switchboard".into())
}

/// Whether `node` is a default-named server of this host whose process is gone (killed,
/// crashed): its lease need not be waited out.
fn dead_here(node: &str) -> bool {
    let Some(pid) = node
        .strip_prefix(&host())
        .and_then(|rest| rest.strip_prefix('-'))
        .and_then(|pid| pid.parse::<u32>().ok())
    else {
        return false;
    };
    pid != std::process::id() && !std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Waits until `node` owns the tenant for `lease`, checking again every second (sooner
/// when the holder's lease runs out first, or when `lease` is under three seconds).
/// Answers when the lease runs out unless renewed.
pub async fn acquire(store: &Store, node: &str, lease: Duration) -> anyhow::Result<i64> {
    let lease_ms = millis(lease);
    let mut told = false;
    loop {
        let now = now_ms();
        let (mut granted, mut owner) = store.claim_owner(TENANT, node, now, now + lease_ms).await?;
        if !granted && dead_here(&owner.node) {
            tracing::warn!(
                "taking over tenant {TENANT} from node {}, whose process is gone",
                owner.node
            );
            // Claimed as at its expiry: granted unless someone else got there first.
            (granted, owner) = store
                .claim_owner(TENANT, node, owner.expires_ms, now + lease_ms)
                .await?;
        }
        if granted {
            if told {
                tracing::info!("node {node} now owns tenant {TENANT}");
            }
            return Ok(owner.expires_ms);
        }
        if !told {
            tracing::warn!(
                "standby: tenant {TENANT} is owned by node {} (its lease runs {} ms more); \
                 waiting until it stops or its lease runs out",
                owner.node,
                owner.expires_ms - now
            );
            told = true;
        }
        let wait = (owner.expires_ms - now).clamp(50, (lease_ms / 3).clamp(50, 1_000));
        tokio::time::sleep(Duration::from_millis(wait.unsigned_abs())).await;
    }
}

/// Renews `node`'s lease every third of `lease`, from a lease that runs until `held_until`;
/// answers (why) when it is lost: another node took it over, or the database did not
/// answer before it ran out.
pub async fn keep(store: Store, node: String, lease: Duration, mut held_until: i64) -> String {
    let lease_ms = millis(lease);
    loop {
        tokio::time::sleep(lease / 3).await;
        let now = now_ms();
        match store.claim_owner(TENANT, &node, now, now + lease_ms).await {
            Ok((true, owner)) => held_until = owner.expires_ms,
            Ok((false, owner)) => return format!("node {} took tenant {TENANT} over", owner.node),
            Err(e) if now >= held_until => {
                return format!("the lease of tenant {TENANT} ran out unrenewed: {e}");
            }
            Err(e) => tracing::warn!("renewing the lease of tenant {TENANT}: {e}"),
        }
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 2)
}
