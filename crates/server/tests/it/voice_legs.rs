//! Agent legs of real calls, with real peers (SIPp, baresip): an unanswered phone passes
//! the call on to the next agent, ring-all rings every phone, an agent hanging up first
//! ends the call for the caller, a caller hanging up stops the ringing, transfers (to an
//! agent, out to a number), callbacks through a trunk (held and resumed) and their
//! retries, direct lines, an offer accepted on the desktop, and phones must authenticate
//! to register (guessing locks the guesser out; admins set their passwords through the
//! API).

use reqwest::Method;
use serde_json::{Value, json};

use crate::voice::{
    Phone, ada_calls, alice_answers_direct, answering, available, channel, free_port,
    no_calls_left, registered, sip_addr, sipp, sipp_on, tone_stream,
};
use crate::{Events, Harness};

/// Sets the ring timeout of queue `orders` (the rest as the demo company has it).
async fn orders_ring_timeout(h: &Harness, admin: &str, secs: u64) {
    orders_queue(h, admin, "longest-idle", secs).await;
}

/// Sets the strategy and ring timeout of queue `orders`.
async fn orders_queue(h: &Harness, admin: &str, strategy: &str, secs: u64) {
    let (status, body) = h
        .call(
            Method::PUT,
            "/api/v1/queues/orders",
            Some(admin),
            Some(json!({
                "strategy": strategy,
                "sl_secs": 30,
                "ring_timeout_secs": secs,
            })),
        )
        .await;
    assert_eq!(status.as_u16(), 204, "{body}");
}

#[tokio::test]
async fn ring_all_rings_every_phone_of_every_agent_and_the_first_answer_takes_the_call() {
    let h = Harness::start().await;
    let admin = h.login("admin", "admin").await;
    let mut events = h.events(&admin).await;
    let target = sip_addr(&h);
    orders_queue(&h, &admin, "ring-all", 30).await;
    // Alice has two phones, Emma one; none answers by itself.
    let alice_desk = Phone::start_with(target, "alice", "phone", 600.0, false);
    registered(&mut events, &["alice"]).await;
    let alice_mobile = Phone::start_with(target, "alice", "phone", 500.0, false);
    registered(&mut events, &["alice"]).await;
    let emma_phone = Phone::start_with(target, "emma", "phone", 400.0, false);
    registered(&mut events, &["emma"]).await;
    let mut phones = [
        ("alice", alice_desk.control().await),
        ("alice", alice_mobile.control().await),
        ("emma", emma_phone.control().await),
    ];
    available(&h, "alice").await;
    available(&h, "emma").await;

    // A caller chooses orders: both agents are offered the call, and all three phones
    // ring at once.
    let caller = ada_calls(target, "3", 4000, String::new());
    let first = events.next_named("contact.offered").await;
    let second = events.next_named("contact.offered").await;
    let mut offered = [first["agent"].clone(), second["agent"].clone()];
    offered.sort_by_key(Value::to_string);
    assert_eq!(offered, [json!("alice"), json!("emma")]);
    for (_, phone) in &mut phones {
        phone.next_of("CALL_INCOMING").await;
    }
    // A phone of the agent offered first answers (had a later offer replaced the ringing,
    // it would be ringing no more).
    let winner = first["agent"].as_str().unwrap();
    let at = phones.iter().position(|(a, _)| *a == winner).unwrap();
    let accepted = phones[at].1.command("accept").await;
    assert_eq!(accepted["ok"], true, "{accepted}");
    let connected = events.next_named("contact.connected").await;
    assert_eq!(connected["agent"], winner, "{connected}");
    // The other phones stop ringing.
    for (i, (_, phone)) in phones.iter_mut().enumerate() {
        if i != at {
            phone.next_of("CALL_CLOSED").await;
        }
    }
    let ended = events.next_named("contact.ended").await;
    assert_eq!(ended["data"]["reason"], "handled", "{ended}");
    caller.await.unwrap().assert_success("caller");
    no_calls_left(&h).await;
    // Every leg is closed out: the customer's, the answered phone's, and the two that
    // rang and were cancelled.
    let contact = ended["contact"].as_i64().unwrap();
    let (_, legs) = h
        .get(&format!("/api/v1/contacts/{contact}/legs"), &admin)
        .await;
    let mut summary: Vec<(String, String, bool)> = legs
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["party"].as_str().unwrap().to_string(),
                l["reason"].as_str().unwrap().to_string(),
                l["answered_ms"].is_i64(),
            )
        })
        .collect();
    summary.sort();
    // Cancelled: one of Alice's phones, and Emma's (Alice answered) or Alice's other.
    let other = if winner == "alice" { "emma" } else { "alice" };
    let mut expected: Vec<(String, String, bool)> = [
        ("+441632960001", "hung_up", true),
        (winner, "ended", true),
        (other, "cancelled", false),
        ("alice", "cancelled", false),
    ]
    .iter()
    .map(|(p, r, a)| (p.to_string(), r.to_string(), *a))
    .collect();
    expected.sort();
    assert_eq!(summary, expected, "{legs}");
    h.stop().await;
}

/// A server whose `[voice] trunk` is 127.0.0.1:`trunk` (where the test's SIPp answers
/// for the numbers behind it).
async fn with_trunk(trunk: u16) -> Harness {
    Harness::start_with(tempfile::tempdir().unwrap(), |c| {
        c.voice.trunk = Some(format!("127.0.0.1:{trunk}"));
    })
    .await
}

/// The next event called `name` about `contact`.
async fn next_about(events: &mut Events, name: &str, contact: i64) -> Value {
    loop {
        let e = events.next_named(name).await;
        if e["contact"] == contact {
            return e;
        }
    }
}

/// Polls the contact until `ready` holds (the event stream, with its `kpis` each second,
/// paces the polls: no sleeping). Answers the contact as last read.
async fn contact_when(
    h: &Harness,
    events: &mut Events,
    token: &str,
    contact: i64,
    ready: impl Fn(&Value) -> bool,
) -> Value {
    let mut c = Value::Null;
    for _ in 0..100 {
        c = h.get(&format!("/api/v1/contacts/{contact}"), token).await.1;
        if ready(&c) {
            return c;
        }
        events.next().await;
    }
    panic!("contact {contact} never got there: {c}");
}

#[tokio::test]
async fn an_unanswered_phone_times_out_and_the_call_rings_the_next_agent() {
    let h = Harness::start().await;
    let admin = h.login("admin", "admin").await;
    let mut events = h.events(&admin).await;
    let target = sip_addr(&h);
    orders_ring_timeout(&h, &admin, 2).await;
    // Dev and Emma both serve orders at tier 1. Dev's phone rings but nobody picks it up;
    // Emma's answers at once and talks with a 600 Hz tone.
    let dev_phone = Phone::start_with(target, "dev", "phone", 400.0, false);
    let emma_phone = Phone::start_with(target, "emma", "phone", 600.0, true);
    registered(&mut events, &["dev", "emma"]).await;
    // Dev has waited longest, so longest-idle offers him the call first.
    available(&h, "dev").await;
    available(&h, "emma").await;

    let media = tempfile::tempdir().unwrap();
    let caller = ada_calls(target, "3", 9000, tone_stream(media.path(), 1000.0));

    let offered = events.next_named("contact.offered").await;
    assert_eq!(offered["agent"], "dev", "{offered}");
    let contact = offered["contact"].as_i64().unwrap();
    let missed = next_about(&mut events, "contact.offer_ended", contact).await;
    assert_eq!(missed["agent"], "dev", "{missed}");
    assert_eq!(missed["data"]["reason"], "timed_out", "{missed}");
    let offered = next_about(&mut events, "contact.offered", contact).await;
    assert_eq!(offered["agent"], "emma", "{offered}");
    let connected = next_about(&mut events, "contact.connected", contact).await;
    assert_eq!(connected["agent"], "emma", "{connected}");
    let ended = next_about(&mut events, "contact.ended", contact).await;
    assert_eq!(ended["data"]["reason"], "handled", "{ended}");
    caller.await.unwrap().assert_success("caller");

    // Once Emma's leg has closed (the recording is noted then), her phone has hung up too.
    let c = contact_when(&h, &mut events, &admin, contact, |c| {
        c["recording"].is_string()
    })
    .await;
    assert_eq!(c["agent"], "emma", "{c}");
    assert_eq!(c["end_reason"], "handled", "{c}");
    use switchboard_media::audio::tone_power;
    let heard = emma_phone.heard();
    assert!(
        tone_power(&heard, 1000.0) > 0.5,
        "Emma heard the caller: {}",
        tone_power(&heard, 1000.0)
    );
    // Dev's phone stopped ringing when his offer ended: its INVITE was cancelled.
    let log = dev_phone.log();
    assert!(
        log.contains("CANCEL sip:dev") && log.contains("SIP/2.0 487 Request Terminated"),
        "Dev's ringing was cancelled:\n{log}"
    );
    let file = h
        .dir
        .path()
        .join("recordings")
        .join(c["recording"].as_str().unwrap());
    let agent_side = channel(&file, 1);
    assert!(
        tone_power(&agent_side, 600.0) > 0.5,
        "Emma, not Dev, on the agent side: {}",
        tone_power(&agent_side, 600.0)
    );
    no_calls_left(&h).await;
    h.stop().await;
}

#[tokio::test]
async fn an_agent_hanging_up_first_ends_the_call_for_the_caller() {
    let h = Harness::start().await;
    let admin = h.login("admin", "admin").await;
    let mut events = h.events(&admin).await;
    let target = sip_addr(&h);
    // Alice's desk phone is SIPp: it listens on `desk` and registers that address.
    let desk = free_port();
    let desk_port = desk.to_string();
    let phone = tokio::spawn(async move {
        sipp_on(
            "agent-hangs-up.xml",
            target,
            desk,
            "alice",
            &[("agent", "alice"), ("talk_ms", "2000")],
        )
        .await
    });
    sipp(
        "register.xml",
        target,
        "alice",
        &[
            ("agent", "alice"),
            ("password", "phone"),
            ("contact_port", &desk_port),
            ("status", "200"),
        ],
    )
    .await
    .assert_success("registration");
    registered(&mut events, &["alice"]).await;
    available(&h, "alice").await;

    let media = tempfile::tempdir().unwrap();
    let stream = tone_stream(media.path(), 1000.0);
    let caller = tokio::spawn(async move {
        sipp(
            "caller-hung-up-on.xml",
            target,
            "support",
            &[
                ("caller", "+441632960001"),
                ("key", "3"),
                ("stream", &stream),
            ],
        )
        .await
    });

    let connected = events.next_named("contact.connected").await;
    assert_eq!(connected["agent"], "alice", "{connected}");
    let contact = connected["contact"].as_i64().unwrap();
    let ended = next_about(&mut events, "contact.ended", contact).await;
    assert_eq!(ended["data"]["reason"], "handled", "{ended}");
    // Alice's phone sent BYE and had it answered; the caller got a BYE and answered it.
    phone.await.unwrap().assert_success("Alice's phone");
    caller.await.unwrap().assert_success("caller");

    let (_, c) = h.get(&format!("/api/v1/contacts/{contact}"), &admin).await;
    assert_eq!(c["agent"], "alice", "{c}");
    assert_eq!(c["status"], "wrap_up", "{c}");
    assert_eq!(c["end_reason"], "handled", "{c}");
    no_calls_left(&h).await;
    h.stop().await;
}

#[tokio::test]
async fn a_caller_hanging_up_while_the_agent_phone_rings_stops_the_ringing() {
    let h = Harness::start().await;
    let admin = h.login("admin", "admin").await;
    let mut events = h.events(&admin).await;
    let target = sip_addr(&h);
    orders_ring_timeout(&h, &admin, 30).await;
    let phone = Phone::start_with(target, "alice", "phone", 600.0, false);
    registered(&mut events, &["alice"]).await;
    available(&h, "alice").await;

    // The caller chooses orders and hangs up three seconds later, well within the ring.
    let caller = ada_calls(target, "3", 3000, String::new());
    let offered = events.next_named("contact.offered").await;
    assert_eq!(offered["agent"], "alice", "{offered}");
    let contact = offered["contact"].as_i64().unwrap();
    // The offer and the contact end, in either order.
    let (mut offer_ended, mut ended) = (Value::Null, Value::Null);
    while offer_ended.is_null() || ended.is_null() {
        let (name, e) = events.next().await;
        if e["contact"] != contact {
            continue;
        }
        match name.as_str() {
            "contact.offer_ended" => offer_ended = e,
            "contact.ended" => ended = e,
            "contact.connected" => panic!("nobody answered: {e}"),
            _ => {}
        }
    }
    assert_eq!(offer_ended["agent"], "alice", "{offer_ended}");
    assert_eq!(
        offer_ended["data"]["reason"], "contact_gone",
        "{offer_ended}"
    );
    assert_eq!(ended["data"]["reason"], "abandoned", "{ended}");
    caller.await.unwrap().assert_success("caller");

    // Alice's phone stops ringing: Switchboard cancels its INVITE, which the phone
    // answers 487 (baresip's SIP trace, `-s`, shows both), and the session closes.
    let mut log = String::new();
    for _ in 0..30 {
        log = phone.log();
        if log.contains("session closed") {
            break;
        }
        events.next().await;
    }
    assert!(
        log.contains("Incoming call from"),
        "Alice's phone rang:\n{log}"
    );
    assert!(
        log.contains("CANCEL sip:alice")
            && log.contains("SIP/2.0 487 Request Terminated")
            && log.contains("session closed"),
        "the ringing was cancelled, never answered:\n{log}"
    );
    let (_, c) = h.get(&format!("/api/v1/contacts/{contact}"), &admin).await;
    assert_eq!(c["end_reason"], "abandoned", "{c}");
    assert!(c["agent"].is_null(), "nobody took it: {c}");
    no_calls_left(&h).await;
    h.stop().await;
}

#[tokio::test]
async fn phones_register_only_with_the_right_password_and_guessing_locks_out() {
    let h = Harness::start().await;
    let admin = h.login("admin", "admin").await;
    let mut events = h.events(&admin).await;
    let target = sip_addr(&h);
    let register = |password: &'static str, status: &'static str, contact_port: u16| async move {
        let port = contact_port.to_string();
        sipp(
            "register.xml",
            target,
            "alice",
            &[
                ("agent", "alice"),
                ("password", password),
                ("contact_port", &port),
                ("status", status),
            ],
        )
        .await
    };
    register("not-the-password", "403", 5071)
        .await
        .assert_success("a wrong password is refused");
    register("phone", "200", 5072)
        .await
        .assert_success("the right password registers");
    let e = events.next_named("agent.phone").await;
    assert_eq!(e["agent"], "alice", "{e}");
    assert_eq!(e["data"]["registered"], true, "{e}");
    let contacts = e["data"]["contacts"].as_array().unwrap();
    assert_eq!(contacts.len(), 1, "only the authenticated phone: {e}");
    assert!(
        contacts[0].as_str().unwrap().ends_with(":5072"),
        "the authenticated phone's address: {e}"
    );

    // Five wrong guesses from this address, then even the right password is refused.
    sipp(
        "register-lockout.xml",
        target,
        "alice",
        &[("agent", "alice"), ("password", "phone")],
    )
    .await
    .assert_success("guessing is locked out");
    // The locked-out address may not call either.
    sipp(
        "refused.xml",
        target,
        "support",
        &[("status", "403"), ("codec", "0")],
    )
    .await
    .assert_success("403 for a call from a locked-out address");
    no_calls_left(&h).await;
    h.stop().await;
}

#[tokio::test]
async fn an_agent_accepts_on_the_desktop_then_picks_up_the_phone_and_talks() {
    let h = Harness::start().await;
    let admin = h.login("admin", "admin").await;
    let mut events = h.events(&admin).await;
    let target = sip_addr(&h);
    // Alice's phone rings until she picks it up.
    let phone = Phone::start_with(target, "alice", "phone", 600.0, false);
    registered(&mut events, &["alice"]).await;
    let mut handset = phone.control().await;
    available(&h, "alice").await;
    let media = tempfile::tempdir().unwrap();
    let stream = tone_stream(media.path(), 1000.0);
    let caller = ada_calls(target, "3", 6000, stream);

    // The offer pops up on her desktop and she accepts it there while the phone rings.
    let offered = events.next_named("contact.offered").await;
    let contact = offered["contact"].as_i64().unwrap();
    handset.next_of("CALL_INCOMING").await;
    let alice = h.login("alice", "demo").await;
    let (status, body) = h
        .post(
            &format!("/api/v1/agents/alice/offers/{contact}/accept"),
            &alice,
            Value::Null,
        )
        .await;
    assert!(status.is_success(), "{body}");
    let connected = next_about(&mut events, "contact.connected", contact).await;
    assert_eq!(connected["agent"], "alice", "{connected}");
    // Then she picks up: the phone carries the conversation.
    let answered = handset.command("accept").await;
    assert_eq!(answered["ok"], true, "{answered}");
    let ended = next_about(&mut events, "contact.ended", contact).await;
    assert_eq!(ended["data"]["reason"], "handled", "{ended}");
    caller.await.unwrap().assert_success("caller");
    no_calls_left(&h).await;
    let audio = phone.heard();
    assert!(
        audio.len() > 8000 * 3,
        "seconds of conversation: {}",
        audio.len()
    );
    let heard = switchboard_media::audio::tone_power(&audio, 1000.0);
    assert!(heard > 0.3, "Alice heard the caller: {heard}");
    h.stop().await;
}

#[tokio::test]
async fn an_agents_direct_line_rings_them_or_says_busy_or_unavailable() {
    let h = Harness::start().await;
    let admin = h.login("admin", "admin").await;
    let mut events = h.events(&admin).await;
    let target = sip_addr(&h);
    let refused = |status: &'static str| async move {
        sipp(
            "refused.xml",
            target,
            "alice",
            &[("status", status), ("codec", "0")],
        )
        .await
    };
    // Alice is logged out: her line is temporarily unavailable.
    refused("480")
        .await
        .assert_success("480 while Alice is offline");

    // Available: a call to `alice` rings her phone, through her first queue.
    let phone = Phone::start(target, "alice", "phone", 600.0);
    registered(&mut events, &["alice"]).await;
    available(&h, "alice").await;
    let mut caller = Phone::dial(target, "+441632960001", "alice", 1000.0, 6);
    let connected = events.next_named("contact.connected").await;
    assert_eq!(connected["agent"], "alice", "{connected}");
    let contact = connected["contact"].as_i64().unwrap();
    // Talking: another call to her line is busy.
    refused("486").await.assert_success("486 while Alice talks");
    caller.finished().await;
    let ended = next_about(&mut events, "contact.ended", contact).await;
    assert_eq!(ended["data"]["reason"], "handled", "{ended}");
    let (_, c) = h.get(&format!("/api/v1/contacts/{contact}"), &admin).await;
    assert_eq!(c["dialed"], "alice", "{c}");
    assert_eq!(c["queue"], "support", "{c}");
    no_calls_left(&h).await;
    let heard = switchboard_media::audio::tone_power(&phone.heard(), 1000.0);
    assert!(heard > 0.3, "Alice heard the caller: {heard}");
    h.stop().await;
}

#[tokio::test]
async fn an_admin_sets_and_removes_a_phone_password_through_the_api() {
    let h = Harness::start().await;
    let admin = h.login("admin", "admin").await;
    let target = sip_addr(&h);
    let register = |password: &'static str, status: &'static str| async move {
        let keys = [
            ("agent", "bob"),
            ("password", password),
            ("contact_port", "5073"),
            ("status", status),
        ];
        sipp("register.xml", target, "bob", &keys).await
    };
    let phone = |password: &str| json!({ "password": password });
    // Only an admin sets it, and not to something short.
    let alice = h.login("alice", "demo").await;
    let path = "/api/v1/phones/bob";
    let (status, body) = h
        .call(Method::PUT, path, Some(&alice), Some(phone("new-phone-pw")))
        .await;
    assert_eq!(status.as_u16(), 403, "{body}");
    let (status, body) = h
        .call(Method::PUT, path, Some(&admin), Some(phone("abc")))
        .await;
    assert_eq!(status.as_u16(), 422, "{body}");
    let (status, body) = h
        .call(Method::PUT, path, Some(&admin), Some(phone("new-phone-pw")))
        .await;
    assert_eq!(status.as_u16(), 204, "{body}");
    // Bob's phone registers with the new password, and no longer with the old one.
    register("new-phone-pw", "200")
        .await
        .assert_success("the new password registers");
    register("phone", "403")
        .await
        .assert_success("the old password is refused");
    // Removed: no password registers.
    let (status, body) = h.call(Method::DELETE, path, Some(&admin), None).await;
    assert_eq!(status.as_u16(), 204, "{body}");
    register("new-phone-pw", "403")
        .await
        .assert_success("no account, no registration");
    let (status, body) = h.call(Method::DELETE, path, Some(&admin), None).await;
    assert_eq!(status.as_u16(), 404, "{body}");
    h.stop().await;
}

#[tokio::test]
async fn an_agent_transfers_a_call_blind_to_another_agent_and_it_stays_one_contact() {
    let h = Harness::start().await;
    let admin = h.login("admin", "admin").await;
    let mut events = h.events(&admin).await;
    let target = sip_addr(&h);
    // Alice's desk phone is SIPp: it answers, then transfers the caller to Emma.
    let desk = free_port();
    let desk_port = desk.to_string();
    let alice_phone = tokio::spawn(async move {
        sipp_on(
            "agent-transfers.xml",
            target,
            desk,
            "alice",
            &[("agent", "alice"), ("talk_ms", "2000"), ("target", "emma")],
        )
        .await
    });
    sipp(
        "register.xml",
        target,
        "alice",
        &[
            ("agent", "alice"),
            ("password", "phone"),
            ("contact_port", &desk_port),
            ("status", "200"),
        ],
    )
    .await
    .assert_success("registration");
    let emma_phone = Phone::start_with(target, "emma", "phone", 600.0, true);
    registered(&mut events, &["alice", "emma"]).await;
    available(&h, "alice").await;

    let media = tempfile::tempdir().unwrap();
    let caller = ada_calls(target, "3", 9000, tone_stream(media.path(), 1000.0));
    let first = events.next_named("contact.connected").await;
    assert_eq!(first["agent"], "alice", "{first}");
    let contact = first["contact"].as_i64().unwrap();
    // Emma comes in while Alice talks (she serves orders ahead of Alice).
    available(&h, "emma").await;
    let moved = next_about(&mut events, "contact.transferred", contact).await;
    assert_eq!(moved["agent"], "alice", "{moved}");
    assert_eq!(moved["data"]["to"], "emma", "{moved}");
    let second = next_about(&mut events, "contact.connected", contact).await;
    assert_eq!(second["agent"], "emma", "{second}");
    let ended = next_about(&mut events, "contact.ended", contact).await;
    assert_eq!(ended["data"]["reason"], "handled", "{ended}");
    alice_phone.await.unwrap().assert_success("Alice's phone");
    caller.await.unwrap().assert_success("caller");

    // One contact, transferred, ended with Emma; Alice was freed at once.
    let (_, c) = h.get(&format!("/api/v1/contacts/{contact}"), &admin).await;
    assert_eq!(c["agent"], "emma", "{c}");
    assert_eq!(c["transferred"], true, "{c}");
    assert_eq!(c["status"], "wrap_up", "{c}");
    let (_, agents) = h.get("/api/v1/kpis/realtime", &admin).await;
    assert!(agents.to_string().contains("alice"), "{agents}");
    let heard = emma_phone.heard();
    let power = switchboard_media::audio::tone_power(&heard, 1000.0);
    assert!(power > 0.5, "Emma heard the caller: {power}");
    // Both conversations were recorded, Alice's then Emma's.
    let c = contact_when(&h, &mut events, &admin, contact, |c| {
        c["recordings"].as_array().is_some_and(|r| r.len() == 2)
    })
    .await;
    let files = c["recordings"].to_string();
    assert!(
        files.find("-alice-") < files.find("-emma-") && files.contains("-alice-"),
        "{c}"
    );
    assert_eq!(c["recording"], c["recordings"][1], "{c}");
    no_calls_left(&h).await;
    h.stop().await;
}

/// A callback through a trunk, up to the agent and the customer talking: the customer's
/// phone behind the trunk answers after 1.5 s and talks with a 1000 Hz tone for
/// `talk_ms`; Alice's phone rings first and hears ringback while the customer's rings.
struct Callback {
    h: Harness,
    events: Events,
    agent: Phone,
    customer: tokio::task::JoinHandle<crate::voice::SippRun>,
    contact: i64,
}

async fn callback_connected(talk_ms: &'static str) -> Callback {
    let trunk = free_port();
    let media = tempfile::tempdir().unwrap();
    let stream = tone_stream(media.path(), 1000.0);
    let h = with_trunk(trunk).await;
    let admin = h.login("admin", "admin").await;
    let mut events = h.events(&admin).await;
    let target = sip_addr(&h);
    let customer = tokio::spawn(async move {
        let _media = media;
        sipp_on(
            "customer-answers.xml",
            target,
            trunk,
            "customer",
            &[
                ("ring_ms", "1500"),
                ("talk_ms", talk_ms),
                ("stream", &stream),
            ],
        )
        .await
    });
    // A number whose flow takes a callback request for orders and hangs up.
    let flow = "id: cb\nversion: 1\nstart: offer\nnodes:\n  offer:\n    callback:\n      \
                queue: orders\n      confirm: \"We will call you back.\"\n";
    answering(&h, &admin, "cb", flow).await;
    let agent = Phone::start_with(target, "alice", "phone", 600.0, true);
    registered(&mut events, &["alice"]).await;

    // The caller asks for the callback and is hung up on.
    let caller = sipp(
        "caller-hung-up-on.xml",
        target,
        "cb",
        &[("caller", "+441632960001"), ("key", "1"), ("stream", "")],
    )
    .await;
    caller.assert_success("caller");
    // Alice comes in: the callback is offered, her phone rings first, then the customer's.
    available(&h, "alice").await;
    let offered = events.next_named("contact.offered").await;
    assert_eq!(offered["agent"], "alice", "{offered}");
    let contact = offered["contact"].as_i64().unwrap();
    let connected = next_about(&mut events, "contact.connected", contact).await;
    assert_eq!(connected["agent"], "alice", "{connected}");
    Callback {
        h,
        events,
        agent,
        customer,
        contact,
    }
}

#[tokio::test]
async fn a_callback_rings_the_agent_first_then_dials_the_customer_through_the_trunk() {
    let Callback {
        h,
        mut events,
        agent,
        customer,
        contact: callback,
    } = callback_connected("4000").await;
    let admin = h.login("admin", "admin").await;
    let ended = next_about(&mut events, "contact.ended", callback).await;
    assert_eq!(ended["data"]["reason"], "handled", "{ended}");
    customer
        .await
        .unwrap()
        .assert_success("the customer's phone");

    let c = contact_when(&h, &mut events, &admin, callback, |c| {
        c["recording"].is_string()
    })
    .await;
    assert_eq!(c["channel"], "callback", "{c}");
    assert_eq!(c["address"], "+441632960001", "{c}");
    assert_eq!(c["agent"], "alice", "{c}");
    let heard = agent.heard();
    let power = switchboard_media::audio::tone_power(&heard, 1000.0);
    assert!(power > 0.2, "Alice heard the customer: {power}");
    let ringback = switchboard_media::audio::tone_power(&heard, 425.0);
    assert!(
        ringback > 0.01,
        "Alice heard ringback while the customer's phone rang: {ringback}"
    );
    no_calls_left(&h).await;
    h.stop().await;
}

#[tokio::test]
async fn the_agent_of_a_callback_puts_the_customer_on_hold_and_takes_them_off_it() {
    let Callback {
        h,
        mut events,
        agent,
        customer,
        contact,
    } = callback_connected("6000").await;
    // As on an inbound call: the phone's re-INVITEs reach the conversation.
    for held in [true, false] {
        agent.command(if held { "hold" } else { "resume" }).await;
        let hold = next_about(&mut events, "contact.hold", contact).await;
        assert_eq!(hold["data"]["held"], held, "{hold}");
    }
    let ended = next_about(&mut events, "contact.ended", contact).await;
    assert_eq!(ended["data"]["reason"], "handled", "{ended}");
    customer
        .await
        .unwrap()
        .assert_success("the customer's phone");
    no_calls_left(&h).await;
    h.stop().await;
}

#[tokio::test]
async fn an_unanswered_callback_is_tried_again_then_given_up() {
    // Behind the trunk, the customer's phone is busy: twice.
    let trunk = free_port();
    let h = with_trunk(trunk).await;
    let admin = h.login("admin", "admin").await;
    let mut events = h.events(&admin).await;
    let target = sip_addr(&h);
    // Orders tries a callback twice, a second apart.
    let (status, body) = h
        .call(
            Method::PUT,
            "/api/v1/queues/orders",
            Some(&admin),
            Some(json!({ "callback_attempts": 2, "callback_retry_secs": 1 })),
        )
        .await;
    assert_eq!(status.as_u16(), 204, "{body}");
    let flow = "id: cb\nversion: 1\nstart: offer\nnodes:\n  offer:\n    callback:\n      \
                queue: orders\n      confirm: \"We will call you back.\"\n";
    answering(&h, &admin, "cb", flow).await;
    let _agent = Phone::start_with(target, "alice", "phone", 600.0, true);
    registered(&mut events, &["alice"]).await;
    sipp(
        "caller-hung-up-on.xml",
        target,
        "cb",
        &[("caller", "+441632960001"), ("key", "1"), ("stream", "")],
    )
    .await
    .assert_success("caller");

    let alice = h.login("alice", "demo").await;
    available(&h, "alice").await;
    let mut attempts = Vec::new();
    for attempt in 1..=2 {
        let busy = tokio::spawn(async move {
            sipp_on("customer-busy.xml", target, trunk, "customer", &[]).await
        });
        // Alice's phone rings first, then the customer's, which is busy.
        let offered = events.next_named("contact.offered").await;
        assert_eq!(offered["agent"], "alice", "attempt {attempt}: {offered}");
        let contact = offered["contact"].as_i64().unwrap();
        let ended = next_about(&mut events, "contact.ended", contact).await;
        assert_eq!(ended["data"]["reason"], "no_answer", "{ended}");
        busy.await.unwrap().assert_success("the busy customer");
        // Alice wraps up and is ready for the next attempt.
        let wrap = json!({ "code": "follow-up", "resolved": false });
        let (status, body) = h
            .post(&format!("/api/v1/contacts/{contact}/wrapup"), &alice, wrap)
            .await;
        assert!(status.is_success(), "{body}");
        attempts.push(contact);
    }
    assert_ne!(
        attempts[0], attempts[1],
        "each attempt is a contact of its own"
    );
    // Two attempts failed: the request is given up as `no_answer`.
    let (_, callbacks) = h.get("/api/v1/callbacks", &admin).await;
    let cb = &callbacks[0];
    assert_eq!(cb["status"], "no_answer", "{callbacks}");
    assert_eq!(cb["failed_attempts"], 2, "{callbacks}");
    no_calls_left(&h).await;
    h.stop().await;
}

#[tokio::test]
async fn a_waiting_caller_takes_a_callback_that_keeps_their_place_and_is_hung_up_on() {
    let h = Harness::start().await;
    let admin = h.login("admin", "admin").await;
    let mut events = h.events(&admin).await;
    let target = sip_addr(&h);
    // Nobody is available: the caller waits, and is offered a callback at once.
    let flow = "id: kept\nversion: 1\nstart: wait\nnodes:\n  wait:\n    enqueue:\n      \
                queue: orders\n      callback:\n        key: \"1\"\n        after: 1ms\n        \
                prompt: \"To be called back, press 1.\"\n        \
                confirm: \"We will call you back.\"\n";
    answering(&h, &admin, "kept", flow).await;

    // The caller presses 1 while waiting; Switchboard confirms and hangs up.
    sipp(
        "caller-hung-up-on.xml",
        target,
        "kept",
        &[("caller", "+441632960001"), ("key", "1"), ("stream", "")],
    )
    .await
    .assert_success("caller");
    let callback = events.next_named("contact.callback").await;
    let contact = callback["contact"].as_i64().unwrap();
    // The contact keeps its place; an agent who comes in is offered it.
    available(&h, "alice").await;
    let offered = next_about(&mut events, "contact.offered", contact).await;
    assert_eq!(offered["agent"], "alice", "{offered}");
    let (_, list) = h.get("/api/v1/callbacks", &admin).await;
    assert!(list.to_string().contains("+441632960001"), "{list}");
    no_calls_left(&h).await;
    h.stop().await;
}

#[tokio::test]
async fn an_agent_transfers_a_call_out_to_a_number_through_the_trunk() {
    // Behind the trunk, the number answers and talks with a 1000 Hz tone, then hangs up.
    let trunk = free_port();
    let media = tempfile::tempdir().unwrap();
    let stream = tone_stream(media.path(), 1000.0);
    let h = with_trunk(trunk).await;
    let admin = h.login("admin", "admin").await;
    let mut events = h.events(&admin).await;
    let target = sip_addr(&h);
    let far_end = tokio::spawn(async move {
        sipp_on(
            "customer-answers.xml",
            target,
            trunk,
            "customer",
            &[("ring_ms", "500"), ("talk_ms", "3000"), ("stream", &stream)],
        )
        .await
    });
    let agent = alice_answers_direct(&h, &admin, &mut events).await;

    // A customer reaches Alice, who transfers the call to a number from her phone (a
    // REFER).
    let mut caller = Phone::dial(target, "+441632960001", "direct", 500.0, 20);
    let connected = events.next_named("contact.connected").await;
    let contact = connected["contact"].as_i64().unwrap();
    let number = "+441632960999";
    let sent = agent
        .command(&format!("transfer sip:{number}@{target}"))
        .await;
    assert_eq!(sent["ok"], true, "{sent}");
    let transferred = next_about(&mut events, "contact.transferred", contact).await;
    assert_eq!(transferred["data"]["to"], number, "{transferred}");
    let ended = next_about(&mut events, "contact.ended", contact).await;
    assert_eq!(ended["data"]["reason"], "transferred", "{ended}");

    // The number answers, talks and hangs up; the caller heard it.
    far_end
        .await
        .unwrap()
        .assert_success("the number behind the trunk");
    no_calls_left(&h).await;
    caller.command("quit").await;
    caller.finished().await;
    let heard = switchboard_media::audio::tone_power(&caller.heard(), 1000.0);
    assert!(heard > 0.1, "the caller heard the number: {heard}");
    // Alice is free at once, and the contact says where it went.
    let (_, c) = h.get(&format!("/api/v1/contacts/{contact}"), &admin).await;
    assert_eq!(c["forwarded_to"], number, "{c}");
    assert_eq!(c["transferred"], true, "{c}");
    assert_eq!(c["end_reason"], "transferred", "{c}");
    assert_eq!(c["agent"], "alice", "{c}");
    let alice = h.login("alice", "demo").await;
    let (_, me) = h.get("/api/v1/agents", &alice).await;
    assert_eq!(me[0]["live"]["state"], "available", "{me}");

    // A flow's transfer node to a number connects the caller the same way; when the
    // number hangs up, so is the caller.
    let far_end = tokio::spawn(async move {
        let keys = [("ring_ms", "200"), ("talk_ms", "1000"), ("stream", "")];
        sipp_on("customer-answers.xml", target, trunk, "customer", &keys).await
    });
    let flow = "id: out\nversion: 1\nstart: away\nnodes:\n  away:\n    transfer:\n      \
                to: \"+441632960998\"\n";
    answering(&h, &admin, "out", flow).await;
    let keys = [("caller", "+441632960001"), ("key", "1"), ("stream", "")];
    sipp("caller-hung-up-on.xml", target, "out", &keys)
        .await
        .assert_success("caller");
    far_end
        .await
        .unwrap()
        .assert_success("the number behind the trunk");
    let ended = events.next_named("contact.ended").await;
    assert_eq!(ended["data"]["reason"], "transferred", "{ended}");
    let out = ended["contact"].as_i64().unwrap();
    let (_, c) = h.get(&format!("/api/v1/contacts/{out}"), &admin).await;
    assert_eq!(c["forwarded_to"], "+441632960998", "{c}");
    no_calls_left(&h).await;
    h.stop().await;
}

#[tokio::test]
async fn a_trunk_that_asks_for_credentials_gets_them() {
    let trunk = free_port();
    let h = Harness::start_with(tempfile::tempdir().unwrap(), |c| {
        c.voice.trunk = Some(format!("127.0.0.1:{trunk}"));
        c.voice.trunk_username = Some("acme".into());
        c.voice.trunk_password = Some("s3cret trunk".into());
    })
    .await;
    let admin = h.login("admin", "admin").await;
    let mut events = h.events(&admin).await;
    let target = sip_addr(&h);
    // The number behind the trunk answers only an INVITE with acme's digest.
    let far_end = tokio::spawn(async move {
        let keys = [
            ("trunk_user", "acme"),
            ("trunk_password", "s3cret trunk"),
            ("talk_ms", "1000"),
        ];
        sipp_on("trunk-challenges.xml", target, trunk, "number", &keys).await
    });
    let flow = "id: out\nversion: 1\nstart: away\nnodes:\n  away:\n    transfer:\n      \
                to: \"+441632960998\"\n";
    answering(&h, &admin, "out", flow).await;
    let keys = [("caller", "+441632960001"), ("key", "1"), ("stream", "")];
    sipp("caller-hung-up-on.xml", target, "out", &keys)
        .await
        .assert_success("caller");
    far_end
        .await
        .unwrap()
        .assert_success("the trunk, given the right credentials");
    let ended = events.next_named("contact.ended").await;
    assert_eq!(ended["data"]["reason"], "transferred", "{ended}");
    no_calls_left(&h).await;
    h.stop().await;
}
