//! Servers sharing one database: exactly one owns the routing at a time (a lease in the
//! database). A second server waits as a standby and takes over when the first stops; a
//! server whose lease is taken from it stops by itself.

use reqwest::StatusCode;
use switchboard_server::lease::TENANT;

use crate::{Harness, postgres_database};

#[tokio::test]
async fn a_second_server_waits_and_takes_over_when_the_owner_stops() {
    let a = Harness::start_with(tempfile::tempdir().unwrap(), |c| {
        c.cluster.node = Some("node-a".into());
    })
    .await;
    let store = a.store().await;
    assert_eq!(a.server.as_ref().unwrap().node, "node-a");
    // A chat in the flow on node A.
    let (id, _chat, _) = a.chat("support", "+441632960001").await;

    // Node B on the same database (and data directory) waits for the lease.
    let data = a.dir.path().to_path_buf();
    let database = postgres_database(&data).await;
    let b = tokio::spawn(Harness::start_with(
        tempfile::tempdir().unwrap(),
        move |c| {
            c.data = data;
            c.database = database;
            c.cluster.node = Some("node-b".into());
        },
    ));
    // While A runs, A owns the tenant and its contact is in progress: B has not closed it.
    let now = switchboard_server::runtime::now_ms();
    let (mine, owner) = store
        .claim_owner(TENANT, "node-c", now, now + 1)
        .await
        .unwrap();
    assert!(!mine);
    assert_eq!(owner.node, "node-a");
    assert_eq!(
        store.contact(id).await.unwrap().status,
        switchboard_store::ContactStatus::Ivr
    );

    // A stops and releases the lease: B takes over, closing what A left in progress.
    let _data = a.stop().await;
    let b = b.await.unwrap();
    let server = b.server.as_ref().unwrap();
    assert_eq!(server.node, "node-b");
    assert_eq!(server.interrupted, vec![id]);
    let now = switchboard_server::runtime::now_ms();
    let (_, owner) = store
        .claim_owner(TENANT, "node-c", now, now + 1)
        .await
        .unwrap();
    assert_eq!(owner.node, "node-b");
    let sam = b.login("sam", "demo").await;
    let (status, c) = b.get(&format!("/api/v1/contacts/{id}"), &sam).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(c["end_reason"], "interrupted", "{c}");
    b.stop().await;
}

#[tokio::test]
async fn a_server_whose_lease_is_taken_stops_by_itself() {
    // A short lease: renewed every third of a second.
    let mut h = Harness::start_with(tempfile::tempdir().unwrap(), |c| {
        c.cluster.node = Some("node-a".into());
        c.cluster.lease_secs = 1;
    })
    .await;
    // Another node takes the tenant (as an operator forcing a failover would).
    let store = h.store().await;
    store.release_owner(TENANT, "node-a").await.unwrap();
    let now = switchboard_server::runtime::now_ms();
    let (mine, _) = store
        .claim_owner(TENANT, "intruder", now, now + 3_600_000)
        .await
        .unwrap();
    assert!(mine);
    // At its next renewal node A finds out, and stops serving.
    let why = h
        .server
        .take()
        .unwrap()
        .run_until_signal()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        why.contains("node intruder took tenant default over"),
        "{why}"
    );
    assert!(
        h.http
            .get(format!("{}/healthz", h.base))
            .send()
            .await
            .is_err()
    );
}
