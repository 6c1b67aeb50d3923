//! The store against a real SQLite file: history, restart close-out, search, versions.

use switchboard_store::{
    ContactFilter, ContactStatus, NewArticle, NewContact, NewCustomer, Role, Store, StoreError,
    Token, User, WrapUp,
};

fn contact(address: &str, customer: Option<i64>) -> NewContact {
    NewContact {
        channel: "chat".into(),
        address: address.into(),
        dialed: "support".into(),
        customer_id: customer,
        flow: Some("tech-support".into()),
    }
}

#[tokio::test]
async fn a_contact_is_recorded_from_start_to_wrap_up() {
    let store = Store::memory().await.unwrap();
    let ada = store
        .create_customer(
            &NewCustomer {
                name: "Ada Lovelace".into(),
                phone: Some("+441632960001".into()),
                segment: Some("business".into()),
                ..NewCustomer::default()
            },
            1_000,
        )
        .await
        .unwrap();
    let found = store.customer_by_address("+441632960001").await.unwrap();
    assert_eq!(found.as_ref().map(|c| c.id), Some(ada.id));

    let id = store
        .create_contact(&contact("+441632960001", Some(ada.id)), 2_000)
        .await
        .unwrap();
    store.contact_queued(id, "support", 3_000).await.unwrap();
    store.contact_connected(id, "alice", 4_000).await.unwrap();
    store.contact_ended(id, "handled", 9_000).await.unwrap();
    assert_eq!(
        store.contact(id).await.unwrap().status,
        ContactStatus::WrapUp
    );
    store
        .wrap_up(
            id,
            &WrapUp {
                code: "fixed".into(),
                notes: Some("reset router".into()),
                resolved: true,
            },
            9_500,
        )
        .await
        .unwrap();
    let c = store.contact(id).await.unwrap();
    assert_eq!(
        (
            c.status,
            c.queue.as_deref(),
            c.agent.as_deref(),
            c.queued_ms,
            c.answered_ms,
            c.ended_ms
        ),
        (
            ContactStatus::Closed,
            Some("support"),
            Some("alice"),
            Some(3_000),
            Some(4_000),
            Some(9_000)
        )
    );
    assert_eq!(
        (c.wrapup_code.as_deref(), c.resolved),
        (Some("fixed"), Some(true))
    );
    // A second wrap-up is refused rather than overwriting the first.
    let again = store
        .wrap_up(
            id,
            &WrapUp {
                code: "other".into(),
                ..WrapUp::default()
            },
            10_000,
        )
        .await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");

    let history = store
        .contacts(&ContactFilter {
            customer_id: Some(ada.id),
            limit: 10,
            ..ContactFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(history.iter().map(|c| c.id).collect::<Vec<_>>(), vec![id]);
    let none = store
        .contacts(&ContactFilter {
            agent: Some("bob".into()),
            limit: 10,
            ..ContactFilter::default()
        })
        .await
        .unwrap();
    assert!(none.is_empty());
}

#[tokio::test]
async fn contacts_in_progress_are_closed_as_interrupted_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("switchboard.db");
    let (waiting, talking, wrapping) = {
        let store = Store::open(&path).await.unwrap();
        let waiting = store.create_contact(&contact("a", None), 1).await.unwrap();
        store.contact_queued(waiting, "support", 2).await.unwrap();
        let talking = store.create_contact(&contact("b", None), 1).await.unwrap();
        store.contact_connected(talking, "alice", 3).await.unwrap();
        let wrapping = store.create_contact(&contact("c", None), 1).await.unwrap();
        store.contact_connected(wrapping, "bob", 3).await.unwrap();
        store.contact_ended(wrapping, "handled", 4).await.unwrap();
        store
            .create_callback(Some(waiting), Some(waiting), "support", "+441632960002", 5)
            .await
            .unwrap();
        store.close().await;
        (waiting, talking, wrapping)
    };
    let store = Store::open(&path).await.unwrap();
    let mut closed = store.close_interrupted(100).await.unwrap();
    closed.sort();
    assert_eq!(closed, vec![waiting, talking]);
    for id in [waiting, talking] {
        let c = store.contact(id).await.unwrap();
        assert_eq!(
            (c.status, c.end_reason.as_deref(), c.ended_ms),
            (ContactStatus::Closed, Some("interrupted"), Some(100))
        );
    }
    // A contact already in wrap-up can still be wrapped up, and the callback still waits.
    assert_eq!(
        store.contact(wrapping).await.unwrap().status,
        ContactStatus::WrapUp
    );
    let pending = store.callbacks(Some("pending")).await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].number, "+441632960002");
}

#[tokio::test]
async fn a_group_writer_commits_for_everyone_and_syncs_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("switchboard.db");
    let store = Store::open(&path).await.unwrap();
    // Nothing written yet: there is no log to flush, and that is fine.
    store.sync().await.unwrap();
    let writer = store.group_writer().await.unwrap();
    let id = writer.create_contact(&contact("a", None), 1).await.unwrap();
    writer.contact_queued(id, "support", 2).await.unwrap();
    writer.sync().await.unwrap();
    assert!(dir.path().join("switchboard.db-wal").exists());
    // The other connections see the writer's commits at once, and after a reopen.
    assert_eq!(
        store.contact(id).await.unwrap().queue.as_deref(),
        Some("support")
    );
    writer.close().await;
    store.close().await;
    let again = Store::open(&path).await.unwrap();
    assert_eq!(
        again.contact(id).await.unwrap().status,
        ContactStatus::Queued
    );
    // In memory, the writer is the store itself and syncing does nothing.
    let memory = Store::memory().await.unwrap();
    let writer = memory.group_writer().await.unwrap();
    let id = writer.create_contact(&contact("b", None), 1).await.unwrap();
    writer.sync().await.unwrap();
    assert_eq!(memory.contact(id).await.unwrap().address, "b");
}

#[tokio::test]
async fn articles_are_found_by_words_and_prefixes_best_first() {
    let store = Store::memory().await.unwrap();
    for (title, body, tags) in [
        (
            "Resetting a router",
            "Hold the reset button for ten seconds.",
            "technical internet",
        ),
        (
            "Paying an invoice",
            "Invoices can be paid by card or transfer.",
            "billing",
        ),
        (
            "Router lights explained",
            "A red light means no line.",
            "technical",
        ),
    ] {
        store
            .add_article(&NewArticle {
                title: title.into(),
                body: body.into(),
                tags: tags.into(),
            })
            .await
            .unwrap();
    }
    let found = store.search_articles("router", 10).await.unwrap();
    assert_eq!(found.len(), 2);
    assert!(found.iter().all(|a| a.title.contains("outer")));
    assert_eq!(
        store.search_articles("invoic", 10).await.unwrap()[0].title,
        "Paying an invoice"
    );
    // FTS syntax in the text is taken as words, never as a query.
    assert!(
        store
            .search_articles("\" NEAR(* -", 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store.search_articles("billing", 10).await.unwrap()[0]
            .tags
            .contains("billing")
    );
}

#[tokio::test]
async fn flow_versions_publish_and_roll_back() {
    let store = Store::memory().await.unwrap();
    assert_eq!(store.publish_flow("support", "v1", 1).await.unwrap(), 1);
    assert_eq!(store.publish_flow("support", "v2", 2).await.unwrap(), 2);
    assert_eq!(store.active_flows().await.unwrap()[0].source, "v2");
    store.activate_flow("support", 1).await.unwrap();
    assert_eq!(store.active_flows().await.unwrap()[0].source, "v1");
    let versions = store.flow_versions("support").await.unwrap();
    assert_eq!(
        versions
            .iter()
            .map(|v| (v.version, v.active))
            .collect::<Vec<_>>(),
        vec![(2, false), (1, true)]
    );
    assert!(matches!(
        store.activate_flow("support", 7).await,
        Err(StoreError::NotFound(_))
    ));
}

#[tokio::test]
async fn tokens_expire_and_die_with_their_user() {
    let store = Store::memory().await.unwrap();
    store
        .put_user(&User {
            name: "sam".into(),
            role: Role::Supervisor,
            agent: None,
            password_hash: "x".into(),
        })
        .await
        .unwrap();
    let t = Token {
        user: "sam".into(),
        kind: "session".into(),
        expires_ms: Some(1_000),
    };
    store.put_token("h1", &t, 0).await.unwrap();
    assert_eq!(store.token("h1", 999).await.unwrap(), Some(t));
    assert_eq!(store.token("h1", 1_000).await.unwrap(), None);
    assert_eq!(
        store.user("sam").await.unwrap().unwrap().role,
        Role::Supervisor
    );
}
