//! The published JSON Schema names exactly the fields the loader accepts.

use std::collections::BTreeSet;

use switchboard_flow::SCHEMA;
use switchboard_flow::check::check;

/// The fields the loader expects where `bogus` was written, from its "unknown field" error.
fn accepted(yaml: &str) -> BTreeSet<String> {
    let checked = check(yaml, None);
    let message = &checked
        .diagnostics
        .first()
        .unwrap_or_else(|| panic!("{yaml} must be refused"))
        .message;
    let (_, expected) = message
        .split_once("expected")
        .unwrap_or_else(|| panic!("not an unknown-field error: {message}"));
    expected
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// The property names of the schema object at a JSON pointer.
fn documented(schema: &serde_json::Value, pointer: &str) -> BTreeSet<String> {
    schema
        .pointer(pointer)
        .and_then(|v| v.get("properties"))
        .and_then(|p| p.as_object())
        .unwrap_or_else(|| panic!("no properties at {pointer}"))
        .keys()
        .cloned()
        .collect()
}

#[test]
fn schema_and_loader_agree_on_every_object() {
    let schema: serde_json::Value = serde_json::from_str(SCHEMA).expect("the schema is JSON");
    let head = "id: x\nversion: 1\nstart: a\n";
    let cases = [
        (
            format!("{head}bogus: 1\nnodes:\n  a: {{hangup: {{}}}}\n"),
            "",
        ),
        (format!("{head}nodes:\n  a: {{bogus: 1}}\n"), "/$defs/node"),
        (
            format!("{head}nodes:\n  a:\n    menu: {{prompt: p, options: [], bogus: 1}}\n"),
            "/$defs/node/properties/menu",
        ),
        (
            format!("{head}nodes:\n  a:\n    collect: {{prompt: p, into: v, bogus: 1}}\n"),
            "/$defs/node/properties/collect",
        ),
        (
            format!("{head}nodes:\n  a:\n    enqueue: {{queue: q, bogus: 1}}\n"),
            "/$defs/node/properties/enqueue",
        ),
        (
            format!(
                "{head}nodes:\n  a:\n    enqueue: {{queue: q, callback: {{key: '1', bogus: 1}}}}\n"
            ),
            "/$defs/node/properties/enqueue/properties/callback",
        ),
        (
            format!("{head}nodes:\n  a:\n    lookup: {{source: s, key: k, into: v, bogus: 1}}\n"),
            "/$defs/node/properties/lookup",
        ),
        (
            format!(
                "{head}nodes:\n  a:\n    hours: {{calendar: c, open: a, closed: a, bogus: 1}}\n"
            ),
            "/$defs/node/properties/hours",
        ),
        (
            format!("{head}nodes:\n  a:\n    survey: {{questions: [], bogus: 1}}\n"),
            "/$defs/node/properties/survey",
        ),
        (
            format!(
                "{head}calendars:\n  c: {{timezone: UTC, hours: {{}}, bogus: 1}}\nnodes:\n  a: {{hangup: {{}}}}\n"
            ),
            "/$defs/calendar",
        ),
    ];
    for (yaml, pointer) in cases {
        assert_eq!(
            accepted(&yaml),
            documented(&schema, pointer),
            "at {pointer:?}"
        );
    }
}
