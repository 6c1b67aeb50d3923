//! Writes as values: a [`Write`] is one statement with its arguments, run alone
//! ([`Store::write`]) or with others in as few round trips as the database allows
//! ([`Store::write_all`]). The owner task collects its group's writes and runs them
//! together at the group's sync, instead of waiting for the database once per write.

use futures_util::TryStreamExt;
use sqlx::Either;

use crate::contacts::{CallLeg, Line};
use crate::{Pool, Result, Store, StoreError, exec};

/// Most writes run as one SQLite statement list (the numbers of their arguments stay
/// well within SQLite's limit of 32,766).
pub const WRITES_PER_STATEMENT: usize = 256;

/// One statement that writes, with its arguments.
#[derive(Debug, Clone, PartialEq)]
pub struct Write {
    /// Its text, with `$1`… for the arguments (the same on both databases).
    sql: &'static str,
    args: Vec<Arg>,
    /// The contact the statement updates: updating no row is an error.
    contact: Option<i64>,
}

/// A statement's argument.
#[derive(Debug, Clone, PartialEq)]
enum Arg {
    Int(Option<i64>),
    Text(Option<String>),
}

impl From<i64> for Arg {
    fn from(v: i64) -> Arg {
        Arg::Int(Some(v))
    }
}

impl From<Option<i64>> for Arg {
    fn from(v: Option<i64>) -> Arg {
        Arg::Int(v)
    }
}

impl From<&str> for Arg {
    fn from(v: &str) -> Arg {
        Arg::Text(Some(v.to_string()))
    }
}

impl From<String> for Arg {
    fn from(v: String) -> Arg {
        Arg::Text(Some(v))
    }
}

impl From<Option<String>> for Arg {
    fn from(v: Option<String>) -> Arg {
        Arg::Text(v)
    }
}

/// Binds `$args` to the query `$q`, for whichever database's driver `$q` is for.
macro_rules! bound {
    ($q:expr, $args:expr) => {{
        let mut q = $q;
        for arg in $args {
            q = match arg {
                Arg::Int(v) => q.bind(*v),
                Arg::Text(v) => q.bind(v.as_deref()),
            };
        }
        q
    }};
}

impl Write {
    fn contact(sql: &'static str, args: Vec<Arg>, contact: i64) -> Write {
        Write {
            sql,
            args,
            contact: Some(contact),
        }
    }

    /// Contact `id` entered `queue`.
    pub fn contact_queued(id: i64, queue: &str, now_ms: i64) -> Write {
        Write::contact(
            "UPDATE contacts SET status = 'queued', queue = $1, \
             queued_ms = COALESCE(queued_ms, $2) WHERE id = $3",
            vec![queue.into(), now_ms.into(), id.into()],
            id,
        )
    }

    /// Contact `id` left the queue but goes on in the flow.
    pub fn contact_dequeued(id: i64) -> Write {
        Write::contact(
            "UPDATE contacts SET status = 'ivr' WHERE id = $1",
            vec![id.into()],
            id,
        )
    }

    /// Contact `id` was transferred into `queue`: it waits there again, for another agent.
    pub fn contact_transferred(id: i64, queue: &str) -> Write {
        Write::contact(
            "UPDATE contacts SET status = 'queued', queue = $1, agent = NULL, \
             transferred = TRUE WHERE id = $2",
            vec![queue.into(), id.into()],
            id,
        )
    }

    /// Contact `id`'s call was transferred out to `number` (through the trunk).
    pub fn contact_forwarded(id: i64, number: &str) -> Write {
        Write::contact(
            "UPDATE contacts SET forwarded_to = $1, transferred = TRUE WHERE id = $2",
            vec![number.into(), id.into()],
            id,
        )
    }

    /// An agent answered contact `id`.
    pub fn contact_connected(id: i64, agent: &str, now_ms: i64) -> Write {
        Write::contact(
            "UPDATE contacts SET status = 'connected', agent = $1, answered_ms = $2 WHERE id = $3",
            vec![agent.into(), now_ms.into(), id.into()],
            id,
        )
    }

    /// Contact `id` ended: into wrap-up when an agent handled it, closed otherwise.
    pub fn contact_ended(id: i64, reason: &str, now_ms: i64) -> Write {
        Write::contact(
            "UPDATE contacts SET ended_ms = COALESCE(ended_ms, $1), \
             end_reason = COALESCE(end_reason, $2), \
             status = CASE WHEN agent IS NULL THEN 'closed' ELSE 'wrap_up' END \
             WHERE id = $3 AND status <> 'closed'",
            vec![now_ms.into(), reason.into(), id.into()],
            id,
        )
    }

    /// Contact `id`'s IVR path and conversation so far.
    pub fn contact_progress(id: i64, path: &[String], lines: &[Line]) -> Result<Write> {
        Ok(Write::contact(
            "UPDATE contacts SET ivr_path = $1, transcript = $2 WHERE id = $3",
            vec![
                serde_json::to_string(path)?.into(),
                serde_json::to_string(lines)?.into(),
                id.into(),
            ],
            id,
        ))
    }

    /// Closes out one leg of a call.
    pub fn call_leg(leg: &CallLeg) -> Write {
        Write {
            sql: "INSERT INTO call_legs (contact_id, kind, party, started_ms, answered_ms, \
                  ended_ms, reason, quality) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            args: vec![
                leg.contact_id.into(),
                leg.kind.as_str().into(),
                leg.party.as_str().into(),
                leg.started_ms.into(),
                leg.answered_ms.into(),
                leg.ended_ms.into(),
                leg.reason.as_str().into(),
                leg.quality
                    .as_ref()
                    .map(serde_json::Value::to_string)
                    .into(),
            ],
            contact: None,
        }
    }

    /// Whether `rows` rows written is what the statement should have done.
    fn check(&self, rows: u64) -> Result<()> {
        match self.contact {
            Some(id) if rows == 0 => Err(StoreError::NotFound(format!("contact {id}"))),
            _ => Ok(()),
        }
    }
}

impl Store {
    /// Runs one write (durable when it returns, as every pool write).
    pub async fn write(&self, w: &Write) -> Result<()> {
        let rows = exec!(self, bound!(sqlx::query(w.sql), &w.args))?;
        w.check(rows)
    }

    /// Runs `writes` in order and answers each one's result: a write that fails does not
    /// stop the ones after it. On SQLite, up to [`WRITES_PER_STATEMENT`] go to the
    /// database as one statement list, in one round trip to its thread (the arguments
    /// renumbered to follow on); PostgreSQL prepares one statement at a time, so there
    /// each is a round trip of its own. (sqlx runs a SQLite query of several statements
    /// and binds its arguments across them, and answers each statement's result; it
    /// calls that behaviour deprecated on `Query::fetch_many`, and the store's tests
    /// would show if it went.)
    pub async fn write_all(&self, writes: &[Write]) -> Vec<Result<()>> {
        let Pool::Sqlite(p) = &self.pool else {
            let mut results = Vec::with_capacity(writes.len());
            for w in writes {
                results.push(self.write(w).await);
            }
            return results;
        };
        let mut results = Vec::with_capacity(writes.len());
        let mut rest = writes;
        {
            let _turn = self.turn().await;
            while !rest.is_empty() {
                let chunk = &rest[..rest.len().min(WRITES_PER_STATEMENT)];
                let sql = statement_list(chunk);
                let query = bound!(
                    sqlx::query(&sql).persistent(false),
                    chunk.iter().flat_map(|w| &w.args)
                );
                // The database stops at a statement that fails; the rest go again.
                let mut ran = 0;
                let mut steps = sqlx::Executor::fetch_many(p, query);
                loop {
                    match steps.try_next().await {
                        Ok(Some(Either::Left(done))) => {
                            results.push(chunk[ran].check(done.rows_affected()));
                            ran += 1;
                        }
                        Ok(Some(Either::Right(_))) => {}
                        Ok(None) => break,
                        Err(e) => {
                            results.push(Err(e.into()));
                            ran += 1;
                            break;
                        }
                    }
                }
                if ran == 0 {
                    // Never seen: nothing ran and nothing failed.
                    results.push(Err(StoreError::Io("a write did not run".into())));
                    ran = 1;
                }
                rest = &rest[ran.min(rest.len())..];
            }
        }
        if let Err(e) = self.written().await {
            let e = e.to_string();
            for r in &mut results {
                if r.is_ok() {
                    *r = Err(StoreError::Io(e.clone()));
                }
            }
        }
        results
    }
}

/// The statements of `writes` as one list, each one's `$n` moved past the arguments of
/// those before it.
fn statement_list(writes: &[Write]) -> String {
    let mut sql = String::new();
    let mut offset = 0;
    for w in writes {
        let mut text = w.sql;
        while let Some(at) = text.find('$') {
            sql.push_str(&text[..=at]);
            let digits = text[at + 1..]
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(text.len() - at - 1);
            let n: usize = text[at + 1..at + 1 + digits]
                .parse()
                .expect("statements number their arguments $1, $2…");
            sql.push_str(&(n + offset).to_string());
            text = &text[at + 1 + digits..];
        }
        sql.push_str(text);
        sql.push_str(";\n");
        offset += w.args.len();
    }
    sql
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_numbers_the_arguments_on() {
        let writes = [
            Write::contact_queued(7, "support", 1),
            Write::contact_dequeued(8),
            Write::contact_connected(9, "alice", 2),
        ];
        assert_eq!(
            statement_list(&writes),
            "UPDATE contacts SET status = 'queued', queue = $1, queued_ms = COALESCE(queued_ms, \
             $2) WHERE id = $3;\nUPDATE contacts SET status = 'ivr' WHERE id = $4;\n\
             UPDATE contacts SET status = 'connected', agent = $5, answered_ms = $6 WHERE id = \
             $7;\n"
        );
    }
}
