//! Golden transcripts of the example flows under several callers, inputs and times.
//! Regenerate with `UPDATE_EXPECT=1 cargo test -p switchboard-flow` and review the diff.

use std::collections::BTreeMap;

use expect_test::expect_file;
use switchboard_flow::interp::{CallData, FieldValue};
use switchboard_flow::simulate::{Lookups, QueueScript, Script, simulate};

use crate::example;

fn at(t: &str) -> chrono::DateTime<chrono::FixedOffset> {
    chrono::DateTime::parse_from_rfc3339(t).expect("valid time")
}

fn customer(fields: &[(&str, FieldValue)]) -> CallData {
    let mut data = CallData::default();
    data.caller.insert("number".into(), "+442071234567".into());
    data.customer = Some(
        fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect::<BTreeMap<_, _>>(),
    );
    data
}

fn anonymous() -> CallData {
    let mut data = CallData::default();
    data.caller.insert("number".into(), "+442071234567".into());
    data
}

fn presses(p: &[&str]) -> Vec<String> {
    p.iter().map(|s| s.to_string()).collect()
}

fn run(flow: &str, data: CallData, time: &str, keys: &[&str]) -> String {
    let script = Script {
        presses: presses(keys),
        ..Script::default()
    };
    simulate(&example(flow), data, at(time), &script).to_text()
}

const MORNING: &str = "2026-12-25T10:00:00+01:00";

#[test]
fn tech_support_unknown_caller_identifies_then_chooses_devices() {
    expect_file!["../golden/tech-support-account-devices.txt"].assert_eq(&run(
        "tech-support",
        anonymous(),
        MORNING,
        &["12345678#", "1"],
    ));
}

#[test]
fn tech_support_bad_account_then_silence_goes_to_an_agent() {
    expect_file!["../golden/tech-support-failures.txt"].assert_eq(&run(
        "tech-support",
        anonymous(),
        MORNING,
        &["123#", "99999999#", "abc", "", "", ""],
    ));
}

#[test]
fn tech_support_known_vip_is_greeted_and_prioritised() {
    let susan = customer(&[
        ("first_name", FieldValue::Text("Susan".into())),
        ("segment", FieldValue::Text("vip".into())),
    ]);
    expect_file!["../golden/tech-support-vip.txt"].assert_eq(&run(
        "tech-support",
        susan,
        MORNING,
        &["7", "2"],
    ));
}

#[test]
fn returning_caller_is_looked_up_by_number_and_goes_back_to_the_last_agent() {
    let pete: BTreeMap<String, FieldValue> = [
        ("first_name", FieldValue::Text("Pete".into())),
        ("open_cases", FieldValue::Int(1)),
        ("last_contact_resolved", FieldValue::Bool(false)),
        ("last_contact_reason", FieldValue::Text("parts".into())),
        ("last_agent", FieldValue::Text("alice".into())),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let mut lookups = Lookups::new();
    lookups
        .entry("customers".into())
        .or_default()
        .insert("+442071234567".into(), pete);
    let mut out = String::new();
    for (name, keys, table) in [
        ("open enquiry", &["1"][..], &lookups),
        ("something else", &["2"][..], &lookups),
        ("not in the customer store", &[][..], &Lookups::new()),
    ] {
        out.push_str(&format!("## {name}\n"));
        let script = Script {
            presses: presses(keys),
            lookups: table.clone(),
            ..Script::default()
        };
        out.push_str(
            &simulate(
                &example("returning-caller"),
                anonymous(),
                at(MORNING),
                &script,
            )
            .to_text(),
        );
    }
    expect_file!["../golden/returning-caller.txt"].assert_eq(&out);
}

#[test]
fn segments_vip_bypasses_and_partner_hears_only_its_products() {
    let vip = customer(&[
        ("segment", FieldValue::Text("vip".into())),
        ("account_owner", FieldValue::Text("bob".into())),
    ]);
    expect_file!["../golden/segment-vip.txt"].assert_eq(&run("segment-routing", vip, MORNING, &[]));
    let partner = customer(&[
        ("segment", FieldValue::Text("partner".into())),
        ("products", FieldValue::List(vec!["tablets".into()])),
    ]);
    expect_file!["../golden/segment-partner.txt"].assert_eq(&run(
        "segment-routing",
        partner,
        MORNING,
        &["1", "2"],
    ));
    expect_file!["../golden/segment-consumer.txt"].assert_eq(&run(
        "segment-routing",
        anonymous(),
        MORNING,
        &["3"],
    ));
}

fn calling_from(number: &str) -> CallData {
    let mut data = CallData::default();
    data.caller.insert("number".into(), number.into());
    data
}

#[test]
fn after_hours_by_time_and_holiday() {
    let runs = [
        ("open-weekday", "2026-12-10T09:30:00+00:00"),
        ("closed-evening", "2026-12-10T19:00:00+00:00"),
        ("closed-sunday", "2026-12-13T10:00:00+00:00"),
        ("holiday", "2026-12-25T10:00:00+01:00"),
        ("short-day-morning", "2026-12-24T11:00:00+00:00"),
        ("short-day-afternoon", "2026-12-24T14:00:00+00:00"),
    ];
    let mut out = String::new();
    for (name, time) in runs {
        out.push_str(&format!("## {name} at {time}\n"));
        out.push_str(&run("after-hours", anonymous(), time, &[]));
    }
    expect_file!["../golden/after-hours.txt"].assert_eq(&out);
}

#[test]
fn geographic_routing_by_country_code() {
    let mut out = String::new();
    for number in [
        "+33142685300",
        "+3222345678",
        "+4930123456",
        "+442071234567",
        "+15551234",
        "0800 not a number",
    ] {
        out.push_str(&format!("## caller {number}\n"));
        out.push_str(
            &simulate(
                &example("geo-routing"),
                calling_from(number),
                at(MORNING),
                &Script::default(),
            )
            .to_text(),
        );
    }
    expect_file!["../golden/geo-routing.txt"].assert_eq(&out);
}

#[test]
fn delivery_self_service_from_a_lookup() {
    let mut record = BTreeMap::new();
    record.insert(
        "window".to_string(),
        FieldValue::Text("between 1 and 5 pm".into()),
    );
    record.insert(
        "address".to_string(),
        FieldValue::Text("12 High Street".into()),
    );
    let mut lookups = Lookups::new();
    lookups
        .entry("deliveries".into())
        .or_default()
        .insert("+442071234567".into(), record);
    let flow = example("delivery");
    let mut out = String::new();
    for (name, keys, table) in [
        ("accepts", &["1"][..], &lookups),
        ("reschedules", &["2"][..], &lookups),
        ("unknown number", &[][..], &Lookups::new()),
    ] {
        out.push_str(&format!("## {name}\n"));
        out.push_str(
            &simulate(
                &flow,
                anonymous(),
                at(MORNING),
                &Script {
                    presses: presses(keys),
                    lookups: table.clone(),
                    ..Script::default()
                },
            )
            .to_text(),
        );
    }
    expect_file!["../golden/delivery.txt"].assert_eq(&out);
}

fn queued(keys: &[&str], queue: QueueScript) -> String {
    let script = Script {
        presses: presses(keys),
        queue,
        ..Script::default()
    };
    simulate(
        &example("queue-experience"),
        anonymous(),
        at(MORNING),
        &script,
    )
    .to_text()
}

#[test]
fn queue_experience_announcements_callback_leave_and_max_wait() {
    let minutes = |m: u64| Some(std::time::Duration::from_secs(60 * m));
    let mut out = String::new();
    out.push_str("## answered after three minutes, declining the callback offer\n");
    out.push_str(&queued(
        &["", "", ""],
        QueueScript {
            answer_after: minutes(3),
            position: 4,
            ewt: minutes(3),
        },
    ));
    out.push_str("## takes the callback when it is offered\n");
    out.push_str(&queued(
        &["", "1"],
        QueueScript {
            answer_after: None,
            position: 9,
            ewt: minutes(4),
        },
    ));
    out.push_str("## a long expected wait brings the offer at once\n");
    out.push_str(&queued(
        &["1"],
        QueueScript {
            answer_after: None,
            position: 30,
            ewt: minutes(12),
        },
    ));
    out.push_str("## leaves a message with star\n");
    out.push_str(&queued(
        &["*"],
        QueueScript {
            answer_after: None,
            position: 5,
            ewt: minutes(4),
        },
    ));
    out.push_str("## reaches the maximum wait\n");
    out.push_str(&queued(
        &[],
        QueueScript {
            answer_after: None,
            position: 12,
            ewt: minutes(4),
        },
    ));
    expect_file!["../golden/queue-experience.txt"].assert_eq(&out);
}

#[test]
fn surveys_and_the_agent_escape() {
    let mut out = String::new();
    out.push_str("## answers both questions\n");
    out.push_str(&run("survey", anonymous(), MORNING, &["1", "5"]));
    out.push_str("## a wrong key, then silence twice: the second question is skipped\n");
    out.push_str(&run("survey", anonymous(), MORNING, &["7", "2", "", ""]));
    out.push_str("## 0 at the account number prompt reaches an agent\n");
    out.push_str(&run("tech-support", anonymous(), MORNING, &["0"]));
    expect_file!["../golden/survey-and-escape.txt"].assert_eq(&out);
}

#[test]
fn subflows_run_and_return() {
    let mut out = String::new();
    for (name, data, keys) in [
        (
            "unknown caller identified by account",
            anonymous(),
            &["12345678#"][..],
        ),
        ("known caller skips the question", customer(&[]), &[][..]),
        (
            "wrong account twice, continues unidentified",
            anonymous(),
            &["1#", "2#"][..],
        ),
    ] {
        out.push_str(&format!("## {name}\n"));
        let script = Script {
            presses: presses(keys),
            library: crate::library(),
            ..Script::default()
        };
        out.push_str(&simulate(&example("billing"), data, at(MORNING), &script).to_text());
    }
    expect_file!["../golden/billing-subflow.txt"].assert_eq(&out);
}

#[test]
fn country_and_region_come_from_the_number() {
    assert_eq!(
        switchboard_flow::interp::country_of("+441534123456").as_deref(),
        Some("JE"),
        "Jersey shares +44 with the UK but is its own region"
    );
    assert_eq!(
        switchboard_flow::interp::country_of("+33142685300").as_deref(),
        Some("FR")
    );
    assert_eq!(switchboard_flow::interp::country_of("not a number"), None);
}
