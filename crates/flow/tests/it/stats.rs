//! Path analytics over many dry runs: counts add up, JSON lines round-trip, and the
//! suggestions a designer needs appear.

use switchboard_flow::interp::CallData;
use switchboard_flow::simulate::{Script, simulate};
use switchboard_flow::stats::{CallEvent, analyse};

use crate::example;

fn runs(flow: &str, callers: &[(usize, &[&str])]) -> Vec<CallEvent> {
    let flow = example(flow);
    let at = chrono::DateTime::parse_from_rfc3339("2026-03-02T10:00:00+00:00").expect("time");
    let mut events = Vec::new();
    let mut id = 0;
    for (count, keys) in callers {
        for _ in 0..*count {
            id += 1;
            let keys: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
            let t = simulate(
                &flow,
                CallData::default(),
                at,
                &Script {
                    presses: keys.clone(),
                    ..Script::default()
                },
            );
            events.extend(t.events.into_iter().map(|event| CallEvent {
                call: format!("call-{id}"),
                event,
            }));
        }
    }
    events
}

#[test]
fn counts_add_up_and_the_most_chosen_option_should_move_earlier() {
    let events = runs(
        "tech-support",
        &[
            (30, &["12345678#", "3"]),
            (10, &["12345678#", "1"]),
            (6, &["1", "", "", ""]),
        ],
    );
    // Recorded as JSON lines and read back, as `flow stats` does.
    let lines: Vec<String> = events
        .iter()
        .map(|e| serde_json::to_string(e).expect("serialises"))
        .collect();
    let back: Vec<CallEvent> = lines
        .iter()
        .map(|l| serde_json::from_str(l).expect("parses"))
        .collect();
    assert_eq!(back, events);

    let s = analyse(&example("tech-support"), &back);
    assert_eq!(s.calls, 46);
    assert_eq!(s.queued, 46);
    assert_eq!(s.contained + s.abandoned + s.failed, 0);
    let node = |name: &str| {
        s.nodes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, st)| st.clone())
            .expect("node")
    };
    let menu = node("main-menu");
    assert_eq!(menu.visits, 46);
    assert_eq!(menu.choices.get("3 orders"), Some(&30));
    assert_eq!(menu.choices.get("1 device problems"), Some(&10));
    assert_eq!(node("ask-account").invalid, 6, "a one-digit account number");
    assert!(
        s.mean_seconds_in_ivr > 10.0,
        "prompts and presses take time: {}",
        s.mean_seconds_in_ivr
    );
    assert!(
        s.suggestions.iter().any(
            |x| x.contains("option 3 (orders) is chosen most") && x.contains("move it earlier")
        ),
        "{:?}",
        s.suggestions
    );
}

#[test]
fn a_catch_all_option_chosen_by_most_callers_means_rethink_the_menu() {
    // Callers not in the customer store skip the menu; these 30 are all found, with an
    // open case, and most choose "something else".
    let flow = example("returning-caller");
    let mut record = std::collections::BTreeMap::new();
    record.insert(
        "open_cases".to_string(),
        switchboard_flow::interp::FieldValue::Int(1),
    );
    let mut lookups = switchboard_flow::simulate::Lookups::new();
    lookups
        .entry("customers".into())
        .or_default()
        .insert("*".into(), record);
    let at = chrono::DateTime::parse_from_rfc3339("2026-03-02T10:00:00+00:00").expect("time");
    let mut events = Vec::new();
    for i in 0..30 {
        let key = if i < 24 { "2" } else { "1" };
        let script = Script {
            presses: vec![key.to_string()],
            lookups: lookups.clone(),
            ..Script::default()
        };
        let t = simulate(&flow, CallData::default(), at, &script);
        events.extend(t.events.into_iter().map(|event| CallEvent {
            call: format!("known-{i}"),
            event,
        }));
    }
    let s = analyse(&flow, &events);
    assert_eq!(s.calls, 30);
    assert!(
        s.suggestions
            .iter()
            .any(|x| x.contains("80% of callers choose 'something else'")
                && x.contains("rethink the menu")),
        "{:?}",
        s.suggestions
    );
}

#[test]
fn hang_ups_in_the_ivr_are_drop_offs_where_they_happened() {
    let flow = example("tech-support");
    let at = chrono::DateTime::parse_from_rfc3339("2026-03-02T10:00:00+00:00").expect("time");
    let mut events = Vec::new();
    for i in 0..25 {
        let mut session = switchboard_flow::interp::Session::new(
            std::sync::Arc::new(flow.clone()),
            CallData::default(),
            at,
        );
        session.start(at);
        if i % 5 == 0 {
            session.hangup(at + chrono::Duration::seconds(9));
        } else {
            session.input(at + chrono::Duration::seconds(9), "12345678#");
            session.input(at + chrono::Duration::seconds(20), "0");
            session.connected(at + chrono::Duration::seconds(20));
        }
        while let Some(step) = session.poll() {
            if let switchboard_flow::interp::Step::Happened(event) = step {
                events.push(CallEvent {
                    call: format!("c{i}"),
                    event,
                });
            }
        }
    }
    let s = analyse(&flow, &events);
    assert_eq!((s.abandoned, s.queued), (5, 20));
    let ask = s
        .nodes
        .iter()
        .find(|(n, _)| n == "ask-account")
        .expect("node");
    assert_eq!(ask.1.drop_offs, 5);
    assert!(
        s.suggestions
            .iter()
            .any(|x| x.starts_with("ask-account: 20% of callers hang up here")),
        "{:?}",
        s.suggestions
    );
    assert!((s.mean_seconds_in_ivr - (5.0 * 9.0 + 20.0 * 20.0) / 25.0).abs() < 1e-9);
}

#[test]
fn survey_answers_give_csat_as_top_two_box() {
    let events = runs(
        "survey",
        &[
            (6, &["1", "5"]),
            (2, &["1", "4"]),
            (1, &["2", "2"]),
            (1, &["2", "1"]),
        ],
    );
    let s = analyse(&example("survey"), &events);
    let csat = &s.surveys["csat"];
    assert_eq!(csat.responses, 10);
    assert_eq!(csat.top_two_box, Some(0.8));
    assert!((csat.mean - 4.1).abs() < 1e-9);
    let resolved = &s.surveys["resolved"];
    assert_eq!(resolved.scores.get(&1), Some(&8));
    assert_eq!(
        resolved.top_two_box, None,
        "a yes/no question has no top-two-box"
    );
    assert_eq!(s.contained, 10, "a completed survey is self-service");
    assert!(
        s.to_text()
            .contains("survey csat: 10 answers, mean 4.10 of 5, CSAT (top-two-box) 80.0%")
    );
}
