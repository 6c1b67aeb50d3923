//! The store against real databases: history, restart close-out, search, versions. Each
//! test runs twice, on a SQLite file and on a PostgreSQL database of its own (on the server
//! `SWITCHBOARD_TEST_POSTGRES` names; `cargo xtask test` starts a private one).

use std::sync::atomic::{AtomicU32, Ordering};

use switchboard_store::{
    CallLeg, ContactFilter, ContactStatus, EVENTS_PER_STATEMENT, NewArticle, NewContact,
    NewCustomer, NewEvent, Owner, Role, Store, StoreError, Token, User, WRITES_PER_STATEMENT,
    WrapUp, Write,
};

/// A test's database, which can be opened again as after a restart.
enum Db {
    Sqlite(tempfile::TempDir),
    Postgres(String),
}

impl Db {
    fn sqlite() -> Db {
        Db::Sqlite(tempfile::tempdir().unwrap())
    }

    async fn postgres() -> Db {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let server = std::env::var("SWITCHBOARD_TEST_POSTGRES").expect(
            "the PostgreSQL tests need SWITCHBOARD_TEST_POSTGRES=postgres://… naming a server \
             where they may create databases (cargo xtask test starts one and sets it)",
        );
        let name = format!(
            "store_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        Db::Postgres(
            switchboard_store::create_postgres_database(&server, &name)
                .await
                .unwrap(),
        )
    }

    async fn open(&self) -> Store {
        match self {
            Db::Sqlite(dir) => Store::open(&dir.path().join("switchboard.db")).await,
            Db::Postgres(url) => Store::connect(url).await,
        }
        .unwrap()
    }
}

/// Runs each test on both databases: `NAME::sqlite` and `NAME::postgres`.
macro_rules! on_both_databases {
    ($($test:ident),* $(,)?) => {$(
        mod $test {
            #[tokio::test]
            async fn sqlite() {
                super::$test(super::Db::sqlite()).await
            }
            #[tokio::test]
            async fn postgres() {
                super::$test(super::Db::postgres().await).await
            }
        }
    )*};
}

on_both_databases!(
    a_contact_is_recorded_from_start_to_wrap_up,
    contacts_in_progress_are_closed_as_interrupted_after_a_restart,
    articles_are_found_by_words_and_prefixes_best_first,
    flow_versions_publish_and_roll_back,
    tokens_expire_and_die_with_their_user,
    customers_are_found_by_any_part_of_name_number_or_email,
    one_server_at_a_time_owns_a_tenant,
    events_are_appended_in_order,
    writes_run_together_in_order_past_failures,
    contacts_are_recorded_and_read_together,
);

fn contact(address: &str, customer: Option<i64>) -> NewContact {
    NewContact {
        channel: "chat".into(),
        address: address.into(),
        dialed: "support".into(),
        customer_id: customer,
        flow: Some("tech-support".into()),
    }
}

async fn a_contact_is_recorded_from_start_to_wrap_up(db: Db) {
    let store = db.open().await;
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

async fn contacts_in_progress_are_closed_as_interrupted_after_a_restart(db: Db) {
    let (waiting, talking, wrapping) = {
        let store = db.open().await;
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
    let store = db.open().await;
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
    assert!(
        !writer.begin_group().await.unwrap(),
        "no group transaction in memory"
    );
    let id = writer.create_contact(&contact("b", None), 1).await.unwrap();
    writer.sync().await.unwrap();
    assert_eq!(memory.contact(id).await.unwrap().address, "b");
}

#[tokio::test]
async fn a_groups_writes_are_seen_by_others_once_committed() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("switchboard.db"))
        .await
        .unwrap();
    let writer = store.group_writer().await.unwrap();
    assert!(writer.begin_group().await.unwrap());
    let id = writer.create_contact(&contact("a", None), 1).await.unwrap();
    writer.contact_queued(id, "support", 2).await.unwrap();
    // The writer reads its own group's writes; nobody else sees them before the commit.
    assert_eq!(
        writer.contact(id).await.unwrap().status,
        ContactStatus::Queued
    );
    assert!(store.contact(id).await.is_err(), "seen before the commit");
    writer.commit_group().await.unwrap();
    writer.sync().await.unwrap();
    assert_eq!(
        store.contact(id).await.unwrap().status,
        ContactStatus::Queued
    );
    // A commit that fails (here: no group is open) answers the error, and the next
    // group still works.
    assert!(writer.commit_group().await.is_err());
    assert!(writer.begin_group().await.unwrap());
    let second = writer.create_contact(&contact("b", None), 3).await.unwrap();
    writer.commit_group().await.unwrap();
    assert_eq!(store.contact(second).await.unwrap().address, "b");
}

#[tokio::test]
async fn the_pool_writes_in_turn_with_a_groups_transaction() {
    use std::task::{Context, Waker};
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("switchboard.db"))
        .await
        .unwrap();
    let writer = store.group_writer().await.unwrap();
    let mut cx = Context::from_waker(Waker::noop());
    // While a group's transaction is open, a write on the pool waits for its turn
    // (instead of retrying against SQLite's lock on a timer), and reads go on.
    assert!(writer.begin_group().await.unwrap());
    let pool_contact = contact("pool", None);
    let mut waiting = std::pin::pin!(store.create_contact(&pool_contact, 1));
    assert!(waiting.as_mut().poll(&mut cx).is_pending());
    let grouped = writer
        .create_contact(&contact("group", None), 2)
        .await
        .unwrap();
    assert!(
        store
            .contacts(&ContactFilter::default())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(waiting.as_mut().poll(&mut cx).is_pending());
    writer.commit_group().await.unwrap();
    let pooled = waiting.await.unwrap();
    assert!(pooled > grouped);
    // The next group waits for a pool write that has the turn, and both are kept.
    let mut flow = std::pin::pin!(store.publish_flow("support", "say \"hi\"", 3));
    let mut group = std::pin::pin!(writer.begin_group());
    // Its first poll takes the turn (finishing takes several round trips to SQLite).
    assert!(flow.as_mut().poll(&mut cx).is_pending());
    assert!(group.as_mut().poll(&mut cx).is_pending());
    assert_eq!(flow.await.unwrap(), 1);
    assert!(group.await.unwrap());
    // The pool's writes line up one at a time: a group waits for the first in line
    // only, and goes before the second.
    let (a, b) = (contact("a", None), contact("b", None));
    let mut first = std::pin::pin!(store.create_contact(&a, 5));
    let mut second = std::pin::pin!(store.create_contact(&b, 6));
    assert!(first.as_mut().poll(&mut cx).is_pending());
    assert!(second.as_mut().poll(&mut cx).is_pending());
    writer.contact_queued(grouped, "support", 4).await.unwrap();
    writer.commit_group().await.unwrap();
    let mut group = std::pin::pin!(writer.begin_group());
    assert!(group.as_mut().poll(&mut cx).is_pending());
    let a = first.await.unwrap();
    assert!(group.await.unwrap());
    assert!(second.as_mut().poll(&mut cx).is_pending());
    writer.commit_group().await.unwrap();
    let b = second.await.unwrap();
    writer.sync().await.unwrap();
    assert_eq!(
        store.contact(grouped).await.unwrap().status,
        ContactStatus::Queued
    );
    for (id, address) in [(pooled, "pool"), (a, "a"), (b, "b")] {
        assert_eq!(store.contact(id).await.unwrap().address, address);
    }
}

async fn articles_are_found_by_words_and_prefixes_best_first(db: Db) {
    let store = db.open().await;
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

async fn flow_versions_publish_and_roll_back(db: Db) {
    let store = db.open().await;
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

async fn tokens_expire_and_die_with_their_user(db: Db) {
    let store = db.open().await;
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

async fn customers_are_found_by_any_part_of_name_number_or_email(db: Db) {
    let store = db.open().await;
    for (name, phone, email) in [
        ("Ada Lovelace", "+441632960001", "ada@example.com"),
        ("Charles Babbage", "+441632960002", "CB@Example.com"),
    ] {
        store
            .create_customer(
                &NewCustomer {
                    name: name.into(),
                    phone: Some(phone.into()),
                    email: Some(email.into()),
                    ..NewCustomer::default()
                },
                1,
            )
            .await
            .unwrap();
    }
    let names = |found: Vec<switchboard_store::Customer>| {
        found.into_iter().map(|c| c.name).collect::<Vec<_>>()
    };
    // Case does not matter, on either database.
    assert_eq!(
        names(store.search_customers("lovelace", 10).await.unwrap()),
        ["Ada Lovelace"]
    );
    assert_eq!(
        names(store.search_customers("cb@example", 10).await.unwrap()),
        ["Charles Babbage"]
    );
    assert_eq!(
        names(store.search_customers("96000", 10).await.unwrap()),
        ["Ada Lovelace", "Charles Babbage"]
    );
    // LIKE's wildcards in the text are not wildcards.
    assert!(store.search_customers("%_", 10).await.unwrap().len() == 2);
    assert!(store.search_customers("zz", 10).await.unwrap().is_empty());
}

/// Two servers open the same PostgreSQL database at once (each migrating it, one after
/// the other under the migrator's lock) and see each other's writes: the scale-out shape.
#[tokio::test]
async fn two_servers_share_one_postgres_database() {
    let db = Db::postgres().await;
    let (a, b) = tokio::join!(db.open(), db.open());
    let id = a.create_contact(&contact("a", None), 1).await.unwrap();
    b.contact_queued(id, "support", 2).await.unwrap();
    assert_eq!(
        a.contact(id).await.unwrap().queue.as_deref(),
        Some("support")
    );
    let seqs = a
        .append_events(&[NewEvent {
            at_ms: 3,
            kind: "contact.queued",
            contact: Some(id),
            agent: None,
            queue: Some("support"),
            data: &serde_json::json!({}),
        }])
        .await
        .unwrap();
    assert_eq!(b.last_event_seq().await.unwrap(), seqs[0]);
}

/// A batch of events (more than one statement holds) lands in the log in the order given,
/// and each is answered its own position.
async fn events_are_appended_in_order(db: Db) {
    let store = db.open().await;
    let data: Vec<serde_json::Value> = (0..EVENTS_PER_STATEMENT + 5)
        .map(|i| serde_json::json!({ "i": i }))
        .collect();
    let kinds = ["agent.state", "contact.queued", "flow.step"];
    let events: Vec<NewEvent> = data
        .iter()
        .enumerate()
        .map(|(i, data)| NewEvent {
            at_ms: 1_000 - i as i64,
            kind: kinds[i % 3],
            contact: (i % 2 == 0).then_some(i as i64),
            agent: (i % 3 == 0).then_some("ada"),
            queue: None,
            data,
        })
        .collect();
    assert!(store.append_events(&[]).await.unwrap().is_empty());
    let seqs = store.append_events(&events).await.unwrap();
    assert_eq!(seqs.len(), events.len());
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    let stored = store.events(0, None, 10_000).await.unwrap();
    assert_eq!(stored.len(), events.len());
    for ((e, got), seq) in events.iter().zip(&stored).zip(&seqs) {
        assert_eq!(got.seq, *seq);
        assert_eq!(got.at_ms, e.at_ms);
        assert_eq!(got.kind, e.kind);
        assert_eq!(got.contact_id, e.contact);
        assert_eq!(got.agent.as_deref(), e.agent);
        assert_eq!(&got.data, e.data);
    }
}

#[tokio::test]
async fn bad_database_urls_get_clear_errors_without_their_password() {
    let err = Store::connect("mysql://root:hunter2@db.example/switchboard")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("postgres://"), "{err}");
    assert!(err.contains("root:***@db.example"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
    // A server that is not there is reported as such (not as a pool's time-out).
    let err = Store::connect("postgres://sb:hunter2@127.0.0.1:1/switchboard")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("sb:***@127.0.0.1:1"), "{err}");
    assert!(err.contains("refused"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
}

async fn one_server_at_a_time_owns_a_tenant(db: Db) {
    let store = db.open().await;
    let owner = |node: &str, expires_ms| Owner {
        node: node.into(),
        expires_ms,
    };
    // Free: granted. Renewed by its holder, refused to another while it lasts.
    assert_eq!(
        store.claim_owner("default", "a", 0, 10_000).await.unwrap(),
        (true, owner("a", 10_000))
    );
    assert_eq!(
        store
            .claim_owner("default", "a", 3_000, 13_000)
            .await
            .unwrap(),
        (true, owner("a", 13_000))
    );
    assert_eq!(
        store
            .claim_owner("default", "b", 12_999, 22_999)
            .await
            .unwrap(),
        (false, owner("a", 13_000))
    );
    // Another tenant is another lease.
    assert!(store.claim_owner("other", "b", 0, 5_000).await.unwrap().0);
    // Expired: taken over; the old holder's renewal is refused.
    assert_eq!(
        store
            .claim_owner("default", "b", 13_000, 23_000)
            .await
            .unwrap(),
        (true, owner("b", 23_000))
    );
    assert_eq!(
        store
            .claim_owner("default", "a", 14_000, 24_000)
            .await
            .unwrap(),
        (false, owner("b", 23_000))
    );
    // Released only by its holder; then free at once.
    store.release_owner("default", "a").await.unwrap();
    assert!(
        !store
            .claim_owner("default", "c", 15_000, 25_000)
            .await
            .unwrap()
            .0
    );
    store.release_owner("default", "b").await.unwrap();
    assert_eq!(
        store
            .claim_owner("default", "c", 15_000, 25_000)
            .await
            .unwrap(),
        (true, owner("c", 25_000))
    );
}

/// On PostgreSQL the group writer's commits return before they are flushed; the others
/// see them at once, and `sync` (a synchronous commit, so a flush past them) succeeds.
#[tokio::test]
async fn a_postgres_group_writer_commits_for_everyone_and_syncs() {
    let db = Db::postgres().await;
    let store = db.open().await;
    let writer = store.group_writer().await.unwrap();
    let id = writer.create_contact(&contact("a", None), 1).await.unwrap();
    writer.contact_queued(id, "support", 2).await.unwrap();
    writer.sync().await.unwrap();
    store.sync().await.unwrap();
    assert_eq!(
        store.contact(id).await.unwrap().queue.as_deref(),
        Some("support")
    );
    writer.close().await;
    store.close().await;
    assert_eq!(
        db.open().await.contact(id).await.unwrap().status,
        ContactStatus::Queued
    );
}

/// A group's writes run in order, more than one statement list holds; a write that fails
/// (a contact that does not exist, a leg of one) fails alone, and the writes after it
/// still run.
async fn writes_run_together_in_order_past_failures(db: Db) {
    let store = db.open().await;
    let writer = store.group_writer().await.unwrap();
    let a = store.create_contact(&contact("+1", None), 1).await.unwrap();
    let b = store.create_contact(&contact("+2", None), 1).await.unwrap();
    let leg = |contact_id: i64, started_ms: i64| CallLeg {
        contact_id,
        kind: "customer".into(),
        party: "+2".into(),
        started_ms,
        answered_ms: None,
        ended_ms: started_ms + 1,
        reason: "hung_up".into(),
        quality: Some(serde_json::json!({ "lost": started_ms })),
    };
    let mut writes = vec![
        Write::contact_queued(a, "support", 2),
        Write::contact_connected(a, "ada", 3),
        Write::contact_queued(a + b + 100, "support", 2),
        Write::call_leg(&leg(a + b + 100, 4)),
        Write::contact_progress(b, &["menu".into(), "2".into()], &[]).unwrap(),
    ];
    writes.extend((0..WRITES_PER_STATEMENT as i64 + 10).map(|i| Write::call_leg(&leg(b, i))));
    writes.push(Write::contact_ended(a, "handled", 9));
    writes.push(Write::contact_ended(b, "abandoned", 10));
    writes.push(Write::contact_ended(b, "again", 11));

    let open = writer.begin_group().await.unwrap();
    let results = writer.write_all(&writes).await;
    if open {
        writer.commit_group().await.unwrap();
    }
    writer.sync().await.unwrap();

    let failed: Vec<usize> = results
        .iter()
        .enumerate()
        .filter_map(|(i, r)| r.is_err().then_some(i))
        .collect();
    // The missing contact, its leg, and ending a contact already closed.
    assert_eq!(failed, [2, 3, writes.len() - 1], "{results:?}");
    assert!(matches!(results[2], Err(StoreError::NotFound(_))));
    let a = store.contact(a).await.unwrap();
    assert_eq!(
        (a.status, a.queue.as_deref(), a.agent.as_deref(), a.ended_ms),
        (ContactStatus::WrapUp, Some("support"), Some("ada"), Some(9))
    );
    let b_row = store.contact(b).await.unwrap();
    assert_eq!(
        (b_row.status, b_row.ivr_path, b_row.end_reason.as_deref()),
        (
            ContactStatus::Closed,
            vec!["menu".to_string(), "2".to_string()],
            Some("abandoned")
        )
    );
    let legs = store.call_legs(b).await.unwrap();
    assert_eq!(legs.len(), WRITES_PER_STATEMENT + 10);
    for (i, l) in legs.iter().enumerate() {
        assert_eq!(l.started_ms, i as i64);
        assert_eq!(l.quality, Some(serde_json::json!({ "lost": i })));
    }
}

/// Contacts recorded together (more than one statement holds) get their ids in the order
/// given, and are read back together by id.
async fn contacts_are_recorded_and_read_together(db: Db) {
    let store = db.open().await;
    let writer = store.group_writer().await.unwrap();
    let new: Vec<NewContact> = (0..EVENTS_PER_STATEMENT + 5)
        .map(|i| contact(&format!("+{i}"), None))
        .collect();
    assert!(writer.create_contacts(&[], 1).await.unwrap().is_empty());
    let open = writer.begin_group().await.unwrap();
    let ids = writer.create_contacts(&new, 7).await.unwrap();
    if open {
        writer.commit_group().await.unwrap();
    }
    writer.sync().await.unwrap();
    assert_eq!(ids.len(), new.len());
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");

    let mut asked: Vec<i64> = ids.iter().rev().copied().collect();
    asked.push(ids[ids.len() - 1] + 1_000);
    let found = store.contacts_by_id(&asked).await.unwrap();
    assert_eq!(found.len(), ids.len());
    for c in found {
        let i = ids.iter().position(|&id| id == c.id).unwrap();
        assert_eq!(
            (c.address.as_str(), c.created_ms, c.status),
            (new[i].address.as_str(), 7, ContactStatus::Ivr)
        );
    }
    assert!(store.contacts_by_id(&[]).await.unwrap().is_empty());
}
