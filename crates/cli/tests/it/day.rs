//! `switchboard day`: a whole simulated day runs and reports.

use crate::{stderr, stdout, switchboard};

#[test]
fn a_simulated_day_runs_and_reports_kpis() {
    let out = switchboard(&["day", "--speed", "0", "--every", "120"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for expected in [
        "08:00",
        "10:00",
        "18:00",
        "End of day",
        "general",
        "tech",
        "french",
        "vip",
        "agent occupancy",
    ] {
        assert!(text.contains(expected), "missing {expected}:\n{text}");
    }
}
