//! Broken flows are refused with each problem at its line and column, with a hint.
//! Each file in tests/broken has a golden list of diagnostics next to it.

use expect_test::expect_file;
use switchboard_flow::check::check;

fn diagnose(name: &str) -> String {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/broken/{name}.yaml"));
    let text = std::fs::read_to_string(&path).expect("test flow exists");
    let checked = check(&text, path.parent());
    assert!(checked.flow.is_none(), "{name} must not load");
    let mut out: Vec<String> = checked
        .diagnostics
        .iter()
        .map(|d| d.render(&format!("{name}.yaml")))
        .collect();
    out.push(String::new());
    out.join("\n")
}

#[test]
fn references_keys_durations_types_and_dead_ends() {
    expect_file!["../broken/many-mistakes.txt"].assert_eq(&diagnose("many-mistakes"));
}

#[test]
fn loops_without_caller_input() {
    expect_file!["../broken/silent-loop.txt"].assert_eq(&diagnose("silent-loop"));
}

#[test]
fn yaml_and_format_errors() {
    expect_file!["../broken/typo-field.txt"].assert_eq(&diagnose("typo-field"));
    expect_file!["../broken/not-yaml.txt"].assert_eq(&diagnose("not-yaml"));
}

#[test]
fn menus_and_collects_out_of_bounds() {
    expect_file!["../broken/menus.txt"].assert_eq(&diagnose("menus"));
    expect_file!["../broken/unannounced.txt"].assert_eq(&diagnose("unannounced"));
}

#[test]
fn calendars_and_countries() {
    expect_file!["../broken/calendars.txt"].assert_eq(&diagnose("calendars"));
}

#[test]
fn unknown_subflows_are_reported_against_the_library() {
    let text = "id: a\nversion: 1\nstart: s\nnodes:\n  s:\n    subflow: { flow: nope }\n    next: e\n  e:\n    hangup: {}\n";
    let flow = check(text, None).flow.expect("loads on its own");
    let diags = switchboard_flow::check::check_subflows(&flow, &crate::library());
    assert_eq!(diags.len(), 1);
    let shown = diags[0].render("a.yaml");
    assert!(
        shown.starts_with("a.yaml:5:3: error: unknown flow `nope` in `s`"),
        "{shown}"
    );
    assert!(shown.contains("identify"), "{shown}");
    let own = "id: a\nversion: 1\nstart: s\nnodes:\n  s:\n    subflow: { flow: a }\n    next: e\n  e:\n    hangup: {}\n";
    assert!(check(own, None).flow.is_none(), "a flow cannot call itself");
}
