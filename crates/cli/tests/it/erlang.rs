//! `switchboard erlang`: published figures, agents needed, and refusals.

use crate::{json, stderr, stdout, switchboard};

fn close(v: &serde_json::Value, want: f64, tol: f64) -> bool {
    v.as_f64().is_some_and(|x| (x - want).abs() <= tol)
}

#[test]
fn erlang_c_json_matches_published_figures() {
    let out = json(&switchboard(&[
        "erlang",
        "--arrivals",
        "360/h",
        "--aht",
        "240s",
        "--agents",
        "26..30",
        "--json",
    ]));
    let rows = out.as_array().expect("an array");
    assert_eq!(rows.len(), 5);
    let c28 = &rows[2];
    assert_eq!(c28["agents"], 28);
    assert!(close(&c28["p_wait"], 0.3331, 5e-4), "{c28}");
    assert!(close(&c28["service_level"], 0.7613, 5e-4), "{c28}");
    assert!(close(&c28["asa_s"], 19.99, 0.01), "{c28}");
    assert!(close(&c28["occupancy"], 24.0 / 28.0, 1e-9), "{c28}");
    assert!(
        c28["p_block"]
            .as_f64()
            .is_some_and(|b| b > 0.0 && b < c28["p_wait"].as_f64().unwrap_or(0.0))
    );
    assert!(c28.get("p_abandon").is_none());
}

#[test]
fn erlang_a_with_patience() {
    let out = json(&switchboard(&[
        "erlang",
        "--arrivals",
        "360/h",
        "--aht",
        "240s",
        "--agents",
        "26",
        "--patience",
        "60s",
        "--json",
    ]));
    let row = &out[0];
    assert!(close(&row["p_abandon"], 0.0691, 5e-4), "{row}");
    assert!(close(&row["service_level"], 0.8693, 5e-4), "{row}");
    assert!(close(&row["asa_s"], 3.42, 0.01), "{row}");
}

#[test]
fn target_answers_agents_needed() {
    let out = switchboard(&[
        "erlang",
        "--arrivals",
        "360/h",
        "--aht",
        "240s",
        "--target",
        "80/20",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("29 agents are needed for 80% answered within 20s"),
        "{}",
        stdout(&out)
    );
    let rows = json(&switchboard(&[
        "erlang",
        "--arrivals",
        "360/h",
        "--aht",
        "240s",
        "--target",
        "80/20",
        "--json",
    ]));
    let needed: Vec<_> = rows
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["needed"] == true)
        .collect();
    assert_eq!(needed.len(), 1);
    assert_eq!(needed[0]["agents"], 29);
}

#[test]
fn hundreds_of_agents_do_not_overflow() {
    let out = json(&switchboard(&[
        "erlang",
        "--arrivals",
        "60000/h",
        "--aht",
        "300s",
        "--agents",
        "5050",
        "--json",
    ]));
    assert!(
        out[0]["p_wait"]
            .as_f64()
            .is_some_and(|p| p > 0.0 && p < 1.0),
        "{out}"
    );
}

#[test]
fn bad_input_is_refused_with_a_reason() {
    for (args, says) in [
        (
            vec!["erlang", "--arrivals", "lots", "--aht", "240s"],
            "not a rate",
        ),
        (
            vec!["erlang", "--arrivals", "360/h", "--aht", "4 fortnights"],
            "not a time unit",
        ),
        (
            vec![
                "erlang",
                "--arrivals",
                "360/h",
                "--aht",
                "240s",
                "--agents",
                "30..26",
            ],
            "range",
        ),
        (
            vec![
                "erlang",
                "--arrivals",
                "360/h",
                "--aht",
                "240s",
                "--target",
                "eighty",
            ],
            "PERCENT/SECONDS",
        ),
    ] {
        let out = switchboard(&args);
        assert!(!out.status.success(), "{args:?} should fail");
        assert!(stderr(&out).contains(says), "{args:?}: {}", stderr(&out));
    }
}
