//! Historical reports computed from contact history: interval reports per queue or agent,
//! first-contact resolution, transfer rate, the customers who contact most, and wait by
//! customer segment. Pure functions over stored contacts (docs/kpis.md has the
//! definitions); the API fetches the rows and renders JSON or CSV.

use std::collections::BTreeMap;

use serde::Serialize;
use switchboard_store::Contact;

/// How interval rows are keyed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum By {
    /// One row per queue and interval.
    Queue,
    /// One row per agent and interval.
    Agent,
}

/// One interval of one queue or agent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct IntervalRow {
    /// Interval start (ms since the epoch).
    pub start_ms: i64,
    /// Queue or agent.
    pub key: String,
    /// Contacts that reached the queue (answered + abandoned; short abandons excluded).
    pub offered: u64,
    /// Answered by an agent.
    pub answered: u64,
    /// Answered within the queue's service-level threshold.
    pub answered_in_sl: u64,
    /// Abandoned in queue (short abandons excluded).
    pub abandoned: u64,
    /// Service level, percent (answered within threshold ÷ offered).
    pub service_level: Option<f64>,
    /// Average speed of answer, seconds.
    pub asa_secs: Option<f64>,
    /// Average handle time (answer to wrap-up), seconds.
    pub aht_secs: Option<f64>,
    /// Longest wait, seconds.
    pub max_wait_secs: f64,
    /// Transferred.
    pub transferred: u64,
}

/// Interval rows for contacts created in `[from, to)`; a contact counts in the interval
/// it entered the queue. `sl_secs` gives each queue's threshold, `short_abandon_ms` the
/// abandons left out.
pub fn intervals(
    contacts: &[Contact],
    from_ms: i64,
    to_ms: i64,
    interval_ms: i64,
    by: By,
    sl_secs: &dyn Fn(&str) -> u64,
    short_abandon_ms: i64,
) -> Vec<IntervalRow> {
    #[derive(Default)]
    struct Acc {
        row: IntervalRow,
        wait_ms: i64,
        handle_ms: i64,
        handled: u64,
    }
    let mut rows: BTreeMap<(i64, String), Acc> = BTreeMap::new();
    for c in contacts {
        let (Some(queue), Some(queued)) = (c.queue.as_deref(), c.queued_ms) else {
            continue;
        };
        if queued < from_ms || queued >= to_ms {
            continue;
        }
        let key = match by {
            By::Queue => queue.to_string(),
            By::Agent => match &c.agent {
                Some(a) => a.clone(),
                None => continue,
            },
        };
        let start = from_ms + (queued - from_ms) / interval_ms * interval_ms;
        let acc = rows.entry((start, key.clone())).or_default();
        acc.row.start_ms = start;
        acc.row.key = key;
        acc.row.transferred += u64::from(c.transferred);
        match (c.answered_ms, c.end_reason.as_deref(), c.ended_ms) {
            (Some(answered), _, _) => {
                let wait = answered - queued;
                acc.row.offered += 1;
                acc.row.answered += 1;
                acc.row.answered_in_sl += u64::from(wait <= sl_secs(queue) as i64 * 1000);
                acc.wait_ms += wait;
                acc.row.max_wait_secs = acc.row.max_wait_secs.max(wait as f64 / 1000.0);
                if let Some(done) = c.wrapped_ms.or(c.ended_ms) {
                    acc.handle_ms += done - answered;
                    acc.handled += 1;
                }
            }
            (None, Some("abandoned"), Some(ended)) if ended - queued >= short_abandon_ms => {
                acc.row.offered += 1;
                acc.row.abandoned += 1;
                acc.row.max_wait_secs = acc.row.max_wait_secs.max((ended - queued) as f64 / 1000.0);
            }
            _ => {}
        }
    }
    rows.into_values()
        .map(|a| {
            let mut r = a.row;
            r.service_level =
                (r.offered > 0).then(|| r.answered_in_sl as f64 * 100.0 / r.offered as f64);
            r.asa_secs = (r.answered > 0).then(|| a.wait_ms as f64 / 1000.0 / r.answered as f64);
            r.aht_secs = (a.handled > 0).then(|| a.handle_ms as f64 / 1000.0 / a.handled as f64);
            r
        })
        .collect()
}

/// Figures over a period.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Summary {
    /// Contacts handled by an agent in the period.
    pub handled: u64,
    /// Handled contacts whose customer made no further contact within the FCR window.
    pub resolved_first_contact: u64,
    /// First-contact resolution, percent of handled.
    pub fcr: Option<f64>,
    /// The FCR window, days.
    pub fcr_window_days: u64,
    /// Transferred ÷ handled, percent.
    pub transfer_rate: Option<f64>,
    /// The customers (or addresses, when unidentified) with most contacts.
    pub top_customers: Vec<TopCustomer>,
    /// Answered contacts' wait by customer segment.
    pub wait_by_segment: Vec<SegmentWait>,
}

/// A frequent customer.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TopCustomer {
    /// Customer id, or the address of an unidentified customer.
    pub customer: String,
    /// Contacts in the period.
    pub contacts: u64,
}

/// Wait of one segment.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SegmentWait {
    /// Segment (`unknown` when unidentified).
    pub segment: String,
    /// Answered contacts.
    pub answered: u64,
    /// Average speed of answer, seconds.
    pub asa_secs: f64,
}

fn match_key(c: &Contact) -> String {
    c.customer_id.map_or_else(
        || format!("address:{}", c.address),
        |id| format!("customer:{id}"),
    )
}

/// The period's summary. `contacts` must cover `[from, to + window)` so that repeat
/// contacts after the period are seen; `segment` gives a customer's segment.
pub fn summary(
    contacts: &[Contact],
    from_ms: i64,
    to_ms: i64,
    fcr_window_days: u64,
    segment: &dyn Fn(i64) -> Option<String>,
) -> Summary {
    let window = i64::try_from(fcr_window_days).unwrap_or(0) * 86_400_000;
    let mut by_customer: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for c in contacts {
        by_customer
            .entry(match_key(c))
            .or_default()
            .push(c.created_ms);
    }
    let in_period: Vec<&Contact> = contacts
        .iter()
        .filter(|c| c.created_ms >= from_ms && c.created_ms < to_ms)
        .collect();
    let handled: Vec<&&Contact> = in_period
        .iter()
        .filter(|c| c.answered_ms.is_some())
        .collect();
    let resolved = handled
        .iter()
        .filter(|c| {
            let after = c.created_ms;
            !by_customer[&match_key(c)]
                .iter()
                .any(|&t| t > after && t <= after + window)
        })
        .count() as u64;
    let transferred = handled.iter().filter(|c| c.transferred).count() as u64;
    let n = handled.len() as u64;
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for c in &in_period {
        let key = c
            .customer_id
            .map_or_else(|| c.address.clone(), |id| id.to_string());
        *counts.entry(key).or_default() += 1;
    }
    let mut top: Vec<TopCustomer> = counts
        .into_iter()
        .map(|(customer, contacts)| TopCustomer { customer, contacts })
        .collect();
    top.sort_by(|a, b| {
        b.contacts
            .cmp(&a.contacts)
            .then(a.customer.cmp(&b.customer))
    });
    top.truncate(10);
    let mut segments: BTreeMap<String, (u64, i64)> = BTreeMap::new();
    for c in &handled {
        let (Some(q), Some(a)) = (c.queued_ms, c.answered_ms) else {
            continue;
        };
        let seg = c
            .customer_id
            .and_then(segment)
            .unwrap_or_else(|| "unknown".into());
        let e = segments.entry(seg).or_default();
        e.0 += 1;
        e.1 += a - q;
    }
    Summary {
        handled: n,
        resolved_first_contact: resolved,
        fcr: (n > 0).then(|| resolved as f64 * 100.0 / n as f64),
        fcr_window_days,
        transfer_rate: (n > 0).then(|| transferred as f64 * 100.0 / n as f64),
        top_customers: top,
        wait_by_segment: segments
            .into_iter()
            .map(|(segment, (answered, wait))| SegmentWait {
                segment,
                answered,
                asa_secs: wait as f64 / 1000.0 / answered as f64,
            })
            .collect(),
    }
}

/// Interval rows as CSV (RFC 4180), with a header line.
pub fn intervals_csv(rows: &[IntervalRow]) -> String {
    let opt = |v: Option<f64>| v.map_or(String::new(), |x| format!("{x:.2}"));
    let mut out = String::from(
        "start_ms,key,offered,answered,answered_in_sl,abandoned,service_level,asa_secs,aht_secs,max_wait_secs,transferred\n",
    );
    for r in rows {
        let key = if r.key.contains([',', '"', '\n']) {
            format!("\"{}\"", r.key.replace('"', "\"\""))
        } else {
            r.key.clone()
        };
        out.push_str(&format!(
            "{},{key},{},{},{},{},{},{},{},{:.2},{}\n",
            r.start_ms,
            r.offered,
            r.answered,
            r.answered_in_sl,
            r.abandoned,
            opt(r.service_level),
            opt(r.asa_secs),
            opt(r.aht_secs),
            r.max_wait_secs,
            r.transferred
        ));
    }
    out
}
