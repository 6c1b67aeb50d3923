//! Business-hours calendars: weekly opening hours in a time zone, holidays and special
//! days, and whether a moment falls inside them.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveTime, Weekday};
use chrono_tz::Tz;

/// Opening spans of one day, as (from, to) with `from < to`.
pub type Spans = Vec<(NaiveTime, NaiveTime)>;

/// A checked calendar.
#[derive(Debug, Clone, PartialEq)]
pub struct Calendar {
    /// Its name.
    pub name: String,
    /// Its time zone.
    pub tz: Tz,
    /// Opening spans per weekday, Monday first.
    pub week: [Spans; 7],
    /// Holidays and special days: name, and the spans open that day (empty: closed).
    pub holidays: BTreeMap<NaiveDate, (String, Spans)>,
}

/// Where a moment falls in a calendar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Inside opening hours (a special day's hours included).
    Open,
    /// Outside opening hours on an ordinary day.
    Closed,
    /// On a holiday, outside any special hours it has.
    Holiday(String),
}

impl Calendar {
    /// The status at `at`, read in the calendar's own time zone.
    pub fn status(&self, at: DateTime<FixedOffset>) -> Status {
        let local = at.with_timezone(&self.tz);
        let (date, time) = (local.date_naive(), local.time());
        let inside = |spans: &Spans| spans.iter().any(|(a, b)| *a <= time && time < *b);
        if let Some((name, spans)) = self.holidays.get(&date) {
            return if inside(spans) {
                Status::Open
            } else {
                Status::Holiday(name.clone())
            };
        }
        if inside(&self.week[local.weekday().num_days_from_monday() as usize]) {
            Status::Open
        } else {
            Status::Closed
        }
    }
}

fn day(name: &str) -> Result<Weekday, String> {
    name.trim()
        .to_ascii_lowercase()
        .parse::<Weekday>()
        .map_err(|_| format!("`{name}` is not a weekday (mon, tue, wed, thu, fri, sat, sun)"))
}

/// Parses `mon-fri`, `sat`, `mon,wed,fri` or `sat-mon` (wrapping) into weekdays.
pub fn parse_days(text: &str) -> Result<Vec<Weekday>, String> {
    let mut days = Vec::new();
    for part in text.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                let (mut d, end) = (day(a)?, day(b)?);
                for _ in 0..7 {
                    days.push(d);
                    if d == end {
                        break;
                    }
                    d = d.succ();
                }
            }
            None => days.push(day(part)?),
        }
    }
    Ok(days)
}

fn time(text: &str) -> Result<NaiveTime, String> {
    let t = text.trim();
    if t == "24:00" {
        return Ok(NaiveTime::from_hms_nano_opt(23, 59, 59, 999_999_999).unwrap_or(NaiveTime::MIN));
    }
    NaiveTime::parse_from_str(t, "%H:%M").map_err(|_| format!("`{t}` is not a time (HH:MM)"))
}

/// Parses `08:00-18:00`, `08:00-12:00, 13:00-17:00` or `closed`.
pub fn parse_spans(text: &str) -> Result<Spans, String> {
    if text.trim() == "closed" {
        return Ok(Vec::new());
    }
    let mut spans = Vec::new();
    for part in text.split(',') {
        let (a, b) = part
            .split_once('-')
            .ok_or_else(|| format!("`{}` is not a span of hours (08:00-18:00)", part.trim()))?;
        let (a, b) = (time(a)?, time(b)?);
        if a >= b {
            return Err(format!("`{}` ends before it starts", part.trim()));
        }
        spans.push((a, b));
    }
    Ok(spans)
}

/// Parses a `YYYY-MM-DD` date.
pub fn parse_date(text: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|_| format!("`{text}` is not a date (YYYY-MM-DD)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uk() -> Calendar {
        let mut week: [Spans; 7] = Default::default();
        for d in parse_days("mon-fri").expect("days") {
            week[d.num_days_from_monday() as usize] = parse_spans("08:00-18:00").expect("spans");
        }
        week[5] = parse_spans("09:00-12:00, 13:00-15:00").expect("spans");
        let mut holidays = BTreeMap::new();
        holidays.insert(
            parse_date("2026-12-25").expect("date"),
            ("Christmas".into(), Vec::new()),
        );
        holidays.insert(
            parse_date("2026-12-24").expect("date"),
            (
                "Christmas Eve".into(),
                parse_spans("08:00-12:00").expect("spans"),
            ),
        );
        Calendar {
            name: "uk".into(),
            tz: "Europe/London".parse().expect("zone"),
            week,
            holidays,
        }
    }

    fn at(t: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(t).expect("time")
    }

    #[test]
    fn status_in_the_calendar_time_zone() {
        let c = uk();
        // Thursday 2026-12-10 09:30 in Paris is 08:30 in London: open.
        assert_eq!(c.status(at("2026-12-10T09:30:00+01:00")), Status::Open);
        // 08:30 in Paris is 07:30 in London: closed.
        assert_eq!(c.status(at("2026-12-10T08:30:00+01:00")), Status::Closed);
        assert_eq!(
            c.status(at("2026-12-12T12:30:00+00:00")),
            Status::Closed,
            "Saturday lunch"
        );
        assert_eq!(c.status(at("2026-12-12T13:30:00+00:00")), Status::Open);
        assert_eq!(
            c.status(at("2026-12-13T10:00:00+00:00")),
            Status::Closed,
            "Sunday"
        );
        assert_eq!(
            c.status(at("2026-12-25T10:00:00+00:00")),
            Status::Holiday("Christmas".into())
        );
        assert_eq!(
            c.status(at("2026-12-24T10:00:00+00:00")),
            Status::Open,
            "short day"
        );
        assert_eq!(
            c.status(at("2026-12-24T13:00:00+00:00")),
            Status::Holiday("Christmas Eve".into())
        );
        // Summer time: 2026-07-01 08:30 UTC is 09:30 in London.
        assert_eq!(c.status(at("2026-07-01T07:30:00+00:00")), Status::Open);
    }

    #[test]
    fn parsing_days_and_spans() {
        assert_eq!(
            parse_days("sat-mon").expect("wraps"),
            [Weekday::Sat, Weekday::Sun, Weekday::Mon]
        );
        assert_eq!(
            parse_days("mon,wed").expect("list"),
            [Weekday::Mon, Weekday::Wed]
        );
        assert!(parse_days("funday").is_err());
        assert!(parse_spans("18:00-08:00").is_err());
        assert!(parse_spans("8am-6pm").is_err());
        assert_eq!(parse_spans("closed").expect("closed"), Vec::new());
        assert!(parse_date("2026-02-30").is_err());
    }
}
