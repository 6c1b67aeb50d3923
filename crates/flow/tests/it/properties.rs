//! Any caller behaviour on any example flow never panics and always ends.

use proptest::prelude::*;
use switchboard_flow::interp::CallData;
use switchboard_flow::simulate::{Script, simulate};

use crate::example;

proptest! {
    #[test]
    fn random_inputs_always_end(
        flow in prop::sample::select(vec!["tech-support", "returning-caller", "segment-routing", "after-hours", "geo-routing", "delivery", "queue-experience", "survey", "billing", "identify"]),
        keys in prop::collection::vec("[0-9*#]{0,10}", 0..30),
        known in any::<bool>(),
    ) {
        let flow = example(flow);
        let mut data = CallData::default();
        if known {
            data.customer = Some(Default::default());
        }
        let at = chrono::DateTime::parse_from_rfc3339("2026-06-01T09:00:00+02:00").expect("time");
        let t = simulate(&flow, data, at, &Script { presses: keys.clone(), library: crate::library(), ..Script::default() });
        prop_assert!(t.exit.is_some(), "the run ended: {}", t.to_text());
        prop_assert!(t.outcome.is_some());
    }
}

proptest! {
    /// Any text as an expression, and any text as a flow file, gives a value or an error
    /// message: never a panic.
    #[test]
    fn untrusted_text_never_panics(text in "\\PC{0,60}", flow in "\\PC{0,300}") {
        let _ = switchboard_flow::expr::Expression::compile(&text, &Default::default());
        let _ = switchboard_flow::check::check(&flow, None);
        let wrapped = format!("id: x\nversion: 1\nstart: a\nnodes:\n  a:\n    branch:\n      - if: {text:?}\n        next: a\n      - else: b\n  b:\n    say: \"{{{text}}}\"\n    next: c\n  c:\n    hangup: {{}}\n");
        let _ = switchboard_flow::check::check(&wrapped, None);
    }
}
