//! `switchboard sim`: the quick single-queue form, scenario files, and refusals.

use crate::{json, stderr, stdout, switchboard};

#[test]
fn single_queue_json_has_every_kpi_with_confidence_intervals() {
    let out = json(&switchboard(&[
        "sim",
        "--arrivals",
        "360/h",
        "--aht",
        "240s",
        "--agents",
        "28",
        "--calls",
        "20000",
        "--replications",
        "4",
        "--seed",
        "3",
        "--json",
    ]));
    for key in [
        "p_wait",
        "service_level",
        "asa_s",
        "abandon_rate",
        "occupancy",
    ] {
        let v = out[key].as_f64().unwrap_or(f64::NAN);
        let ci = out["ci95"][key].as_f64().unwrap_or(f64::NAN);
        assert!(v.is_finite() && ci.is_finite() && ci >= 0.0, "{key}: {out}");
    }
    assert!(
        out["p_wait"]
            .as_f64()
            .is_some_and(|p| (0.2..0.5).contains(&p)),
        "{out}"
    );
    assert_eq!(out["abandon_rate"], 0.0);
    assert_eq!(out["replications"], 4);
}

#[test]
fn the_same_seed_gives_the_same_answer() {
    let args = [
        "sim",
        "--arrivals",
        "360/h",
        "--aht",
        "240s",
        "--agents",
        "26",
        "--patience",
        "60s",
        "--calls",
        "5000",
        "--replications",
        "2",
        "--seed",
        "9",
        "--json",
    ];
    assert_eq!(json(&switchboard(&args)), json(&switchboard(&args)));
}

#[test]
fn example_scenarios_run() {
    for file in [
        "examples/scenarios/multi-skill.yaml",
        "examples/scenarios/demo.yaml",
    ] {
        let out = switchboard(&["sim", file, "--replications", "2"]);
        assert!(out.status.success(), "{file}: {}", stderr(&out));
        let text = stdout(&out);
        assert!(text.contains("± is a 95% CI"), "{text}");
        assert!(text.contains("service level ="), "{text}");
    }
    let out = json(&switchboard(&[
        "sim",
        "examples/scenarios/multi-skill.yaml",
        "--replications",
        "2",
        "--json",
    ]));
    let queues = out["queues"].as_array().expect("queues");
    assert_eq!(queues.len(), 3);
    for q in queues {
        assert!(
            q["offered"]["mean"].as_f64().is_some_and(|n| n > 100.0),
            "{q}"
        );
        assert!(
            q["service_level"]["mean"]
                .as_f64()
                .is_some_and(|s| s > 0.0 && s <= 1.0),
            "{q}"
        );
    }
    assert_eq!(out["agents"].as_array().map(Vec::len), Some(22));
}

#[test]
fn broken_scenarios_and_flags_are_refused() {
    let dir = std::env::temp_dir().join(format!("switchboard-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let bad = dir.join("bad.yaml");
    std::fs::write(&bad, "name: x\nduration: 1h\nqueues:\n  - name: q\n    arrivals: 10/h\n    handle_time: exp(3m)\n    colour: blue\nagents: []\n")
        .expect("write");
    let out = switchboard(&["sim", bad.to_str().unwrap_or_default()]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("bad.yaml:") && err.contains("colour"), "{err}");

    let out = switchboard(&[
        "sim",
        "--arrivals",
        "360/h",
        "--aht",
        "240s",
        "--agents",
        "20",
    ]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("never reaches a steady state"),
        "{}",
        stderr(&out)
    );

    let out = switchboard(&["sim", "no-such-file.yaml"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("cannot read no-such-file.yaml"),
        "{}",
        stderr(&out)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
