//! Contact history, the event log and callback requests.

use serde::{Deserialize, Serialize};

use crate::{Result, Store, StoreError, Write, exec, fetch, fetch_written, from_json, on_pool};

/// Where a contact is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ContactStatus {
    /// In the flow (IVR or bot).
    Ivr,
    /// Waiting in a queue.
    Queued,
    /// With an agent.
    Connected,
    /// Ended; the agent's wrap-up is pending.
    WrapUp,
    /// Finished.
    Closed,
}

impl ContactStatus {
    /// The stored name.
    pub fn name(self) -> &'static str {
        match self {
            ContactStatus::Ivr => "ivr",
            ContactStatus::Queued => "queued",
            ContactStatus::Connected => "connected",
            ContactStatus::WrapUp => "wrap_up",
            ContactStatus::Closed => "closed",
        }
    }

    fn parse(s: &str) -> ContactStatus {
        match s {
            "ivr" => ContactStatus::Ivr,
            "queued" => ContactStatus::Queued,
            "connected" => ContactStatus::Connected,
            "wrap_up" => ContactStatus::WrapUp,
            _ => ContactStatus::Closed,
        }
    }
}

/// A contact: one call, chat, email… from start to wrap-up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Contact {
    /// Id (also the routing engine's contact id).
    pub id: i64,
    /// `voice`, `chat`, `email`, `sms`, `callback`.
    pub channel: String,
    /// Who: phone number, email address or chat handle.
    pub address: String,
    /// What they reached: dialed number, address or entry point.
    pub dialed: String,
    /// The identified customer.
    pub customer_id: Option<i64>,
    /// The flow that ran.
    pub flow: Option<String>,
    /// The queue it waited in.
    pub queue: Option<String>,
    /// The agent who handled it.
    pub agent: Option<String>,
    /// Where it is.
    pub status: ContactStatus,
    /// Nodes and choices in the flow, in order (e.g. `main-menu:2 technical`).
    pub ivr_path: Vec<String>,
    /// The conversation (text channels) or prompts (voice), in order.
    pub transcript: Vec<Line>,
    /// Started (ms since the epoch).
    pub created_ms: i64,
    /// Entered the queue.
    pub queued_ms: Option<i64>,
    /// Answered by an agent.
    pub answered_ms: Option<i64>,
    /// Ended (caller or agent left, or the flow finished).
    pub ended_ms: Option<i64>,
    /// Wrapped up.
    pub wrapped_ms: Option<i64>,
    /// How it ended: `handled`, `abandoned`, `voicemail`, `callback`, `transferred`,
    /// `flow:<reason>`, `interrupted`, …
    pub end_reason: Option<String>,
    /// Wrap-up code.
    pub wrapup_code: Option<String>,
    /// Agent's notes.
    pub notes: Option<String>,
    /// Whether the agent marked it resolved.
    pub resolved: Option<bool>,
    /// Recording reference (the latest).
    pub recording: Option<String>,
    /// Every recording, in order (one per agent who talked with the caller).
    pub recordings: Vec<String>,
    /// Voicemail reference.
    pub voicemail: Option<String>,
    /// Whether it was transferred.
    pub transferred: bool,
    /// The number the call was transferred out to, through the trunk.
    pub forwarded_to: Option<String>,
}

/// A line of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Line {
    /// When (ms since the epoch).
    pub at_ms: i64,
    /// `system` (the flow), `customer` or `agent`.
    pub from: String,
    /// What was said.
    pub text: String,
}

#[derive(sqlx::FromRow)]
struct ContactRow {
    id: i64,
    channel: String,
    address: String,
    dialed: String,
    customer_id: Option<i64>,
    flow: Option<String>,
    queue: Option<String>,
    agent: Option<String>,
    status: String,
    ivr_path: String,
    transcript: String,
    created_ms: i64,
    queued_ms: Option<i64>,
    answered_ms: Option<i64>,
    ended_ms: Option<i64>,
    wrapped_ms: Option<i64>,
    end_reason: Option<String>,
    wrapup_code: Option<String>,
    notes: Option<String>,
    resolved: Option<bool>,
    recording: Option<String>,
    recordings: Option<String>,
    voicemail: Option<String>,
    transferred: bool,
    forwarded_to: Option<String>,
}

impl TryFrom<ContactRow> for Contact {
    type Error = StoreError;
    fn try_from(r: ContactRow) -> Result<Contact> {
        Ok(Contact {
            id: r.id,
            channel: r.channel,
            address: r.address,
            dialed: r.dialed,
            customer_id: r.customer_id,
            flow: r.flow,
            queue: r.queue,
            agent: r.agent,
            status: ContactStatus::parse(&r.status),
            ivr_path: from_json(&r.ivr_path)?,
            transcript: from_json(&r.transcript)?,
            created_ms: r.created_ms,
            queued_ms: r.queued_ms,
            answered_ms: r.answered_ms,
            ended_ms: r.ended_ms,
            wrapped_ms: r.wrapped_ms,
            end_reason: r.end_reason,
            wrapup_code: r.wrapup_code,
            notes: r.notes,
            resolved: r.resolved,
            recording: r.recording,
            recordings: r
                .recordings
                .as_deref()
                .map(|files| files.lines().map(str::to_string).collect())
                .unwrap_or_default(),
            voicemail: r.voicemail,
            transferred: r.transferred,
            forwarded_to: r.forwarded_to,
        })
    }
}

const CONTACT: &str = "SELECT id, channel, address, dialed, customer_id, flow, queue, agent, \
    status, ivr_path, transcript, created_ms, queued_ms, answered_ms, ended_ms, wrapped_ms, \
    end_reason, wrapup_code, notes, resolved, recording, recordings, voicemail, transferred, \
    forwarded_to FROM contacts";

/// A contact as it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct NewContact {
    /// Channel.
    pub channel: String,
    /// Who.
    pub address: String,
    /// What they reached.
    pub dialed: String,
    /// The identified customer.
    pub customer_id: Option<i64>,
    /// The flow that will run.
    pub flow: Option<String>,
}

/// An agent's wrap-up of a contact.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WrapUp {
    /// Wrap-up code (one of the configured codes).
    pub code: String,
    /// Notes.
    #[serde(default)]
    pub notes: Option<String>,
    /// Whether the customer's issue was resolved.
    #[serde(default)]
    pub resolved: bool,
}

/// Which contacts to list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContactFilter {
    /// Handled by this agent.
    pub agent: Option<String>,
    /// Of this customer.
    pub customer_id: Option<i64>,
    /// Waited in this queue.
    pub queue: Option<String>,
    /// Started at or after (ms).
    pub since_ms: Option<i64>,
    /// Started before (ms).
    pub until_ms: Option<i64>,
    /// Most rows (newest first).
    pub limit: i64,
}

/// An event to append to the log ([`Store::append_events`]).
#[derive(Debug, Clone, Copy)]
pub struct NewEvent<'a> {
    /// When (ms since the epoch).
    pub at_ms: i64,
    /// What kind (`contact.queued`, `agent.state`, …).
    pub kind: &'a str,
    /// The contact concerned.
    pub contact: Option<i64>,
    /// The agent concerned.
    pub agent: Option<&'a str>,
    /// The queue concerned.
    pub queue: Option<&'a str>,
    /// Details.
    pub data: &'a serde_json::Value,
}

/// Most events appended by one statement: six parameters each, well inside SQLite's
/// limit of 32,766 bound parameters (and PostgreSQL's 65,535).
pub const EVENTS_PER_STATEMENT: usize = 1000;

/// An entry of the event log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Event {
    /// Position in the log.
    pub seq: i64,
    /// When (ms since the epoch).
    pub at_ms: i64,
    /// What kind (`contact.queued`, `agent.state`, …).
    pub kind: String,
    /// The contact concerned.
    pub contact_id: Option<i64>,
    /// The agent concerned.
    pub agent: Option<String>,
    /// The queue concerned.
    pub queue: Option<String>,
    /// Details.
    pub data: serde_json::Value,
}

#[derive(sqlx::FromRow)]
struct EventRow {
    seq: i64,
    at_ms: i64,
    kind: String,
    contact_id: Option<i64>,
    agent: Option<String>,
    queue: Option<String>,
    data: String,
}

impl TryFrom<EventRow> for Event {
    type Error = StoreError;
    fn try_from(r: EventRow) -> Result<Event> {
        Ok(Event {
            seq: r.seq,
            at_ms: r.at_ms,
            kind: r.kind,
            contact_id: r.contact_id,
            agent: r.agent,
            queue: r.queue,
            data: from_json(&r.data)?,
        })
    }
}

/// A callback request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Callback {
    /// Id.
    pub id: i64,
    /// The contact it came from.
    pub contact_id: Option<i64>,
    /// Queue that calls back.
    pub queue: String,
    /// Number to call.
    pub number: String,
    /// Requested (ms since the epoch).
    pub requested_ms: i64,
    /// `pending`, `done`, `cancelled`, or `no_answer` (every attempt failed).
    pub status: String,
    /// The contact routing it now.
    pub attempt_contact: Option<i64>,
    /// Attempts whose customer did not answer.
    pub failed_attempts: i64,
    /// When the next attempt is due (none: at once).
    pub due_ms: Option<i64>,
}

/// One leg of a call, closed out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CallLeg {
    /// The contact the call carries.
    pub contact_id: i64,
    /// `customer`, `agent`, `supervisor` or `external`.
    pub kind: String,
    /// The customer's number, the agent's or supervisor's login, or the number dialed.
    pub party: String,
    /// Started: the INVITE received or sent (ms since the epoch).
    pub started_ms: i64,
    /// Answered, if it was.
    pub answered_ms: Option<i64>,
    /// Ended.
    pub ended_ms: i64,
    /// `hung_up` (its party hung up), `ended` (Switchboard ended it), `cancelled`, or why
    /// it failed.
    pub reason: String,
    /// How its audio went (packets received and lost, jitter, the peer's RTCP reports).
    #[schema(value_type = Option<Object>)]
    pub quality: Option<serde_json::Value>,
}

#[derive(sqlx::FromRow)]
struct CallLegRow {
    contact_id: i64,
    kind: String,
    party: String,
    started_ms: i64,
    answered_ms: Option<i64>,
    ended_ms: i64,
    reason: String,
    quality: Option<String>,
}

/// Whether an update found contact `id`.
fn updated(rows: u64, id: i64) -> Result<()> {
    if rows == 0 {
        return Err(StoreError::NotFound(format!("contact {id}")));
    }
    Ok(())
}

/// The keys an `INSERT … RETURNING` answered for `rows` rows, in the order of its VALUES
/// list: the rows are inserted in that order, each with a higher key than the one
/// before, but RETURNING need not answer in that order.
fn in_row_order(mut keys: Vec<i64>, rows: usize) -> Result<Vec<i64>> {
    if keys.len() != rows {
        return Err(StoreError::Io(format!(
            "{rows} rows inserted, {} keys answered",
            keys.len()
        )));
    }
    keys.sort_unstable();
    Ok(keys)
}

/// The columns of a [`Callback`].
const CALLBACK: &str =
    "id, contact_id, queue, number, requested_ms, status, attempt_contact, failed_attempts, due_ms";

impl Store {
    /// Records a new contact (in the flow) and returns its id: committed before the caller
    /// is answered.
    pub async fn create_contact(&self, c: &NewContact, now_ms: i64) -> Result<i64> {
        Ok(fetch_written!(self, fetch_one, sqlx::query_scalar(
            "INSERT INTO contacts (channel, address, dialed, customer_id, flow, status, created_ms) \
             VALUES ($1, $2, $3, $4, $5, 'ivr', $6) RETURNING id",
        )
        .bind(&c.channel)
        .bind(&c.address)
        .bind(&c.dialed)
        .bind(c.customer_id)
        .bind(&c.flow)
        .bind(now_ms))?)
    }

    /// Records new contacts (in their flows) and returns their ids, in the order given. On
    /// SQLite, one statement for up to [`EVENTS_PER_STATEMENT`] of them: a row's id is one
    /// more than the largest before it, and a statement inserts its VALUES in order.
    /// PostgreSQL's sequence promises no order among a statement's rows, so there each is
    /// inserted alone.
    pub async fn create_contacts(&self, new: &[NewContact], now_ms: i64) -> Result<Vec<i64>> {
        let crate::Pool::Sqlite(p) = &self.pool else {
            let mut ids = Vec::with_capacity(new.len());
            for c in new {
                ids.push(self.create_contact(c, now_ms).await?);
            }
            return Ok(ids);
        };
        let mut ids = Vec::with_capacity(new.len());
        for chunk in new.chunks(EVENTS_PER_STATEMENT) {
            let done = {
                let _turn = self.turn().await;
                let mut q = sqlx::QueryBuilder::new(
                    "INSERT INTO contacts (channel, address, dialed, customer_id, flow, status, \
                     created_ms) ",
                );
                q.push_values(chunk, |mut row, c| {
                    row.push_bind(&c.channel)
                        .push_bind(&c.address)
                        .push_bind(&c.dialed)
                        .push_bind(c.customer_id)
                        .push_bind(&c.flow)
                        .push_bind("ivr")
                        .push_bind(now_ms);
                });
                q.push(" RETURNING id");
                q.build_query_scalar::<i64>().fetch_all(p).await
            };
            ids.extend(in_row_order(self.durable(done).await?, chunk.len())?);
        }
        Ok(ids)
    }

    /// The contact entered `queue`.
    pub async fn contact_queued(&self, id: i64, queue: &str, now_ms: i64) -> Result<()> {
        self.write(&Write::contact_queued(id, queue, now_ms)).await
    }

    /// The contact left the queue but goes on in the flow.
    pub async fn contact_dequeued(&self, id: i64) -> Result<()> {
        self.write(&Write::contact_dequeued(id)).await
    }

    /// The contact was transferred into `queue`: it waits there again, for another agent.
    pub async fn contact_transferred(&self, id: i64, queue: &str) -> Result<()> {
        self.write(&Write::contact_transferred(id, queue)).await
    }

    /// The contact's call was transferred out to `number` (through the trunk).
    pub async fn contact_forwarded(&self, id: i64, number: &str) -> Result<()> {
        self.write(&Write::contact_forwarded(id, number)).await
    }

    /// The contact's voicemail is in `file`.
    pub async fn contact_voicemail(&self, id: i64, file: &str) -> Result<()> {
        updated(
            exec!(
                self,
                sqlx::query("UPDATE contacts SET voicemail = $1 WHERE id = $2")
                    .bind(file)
                    .bind(id)
            )?,
            id,
        )
    }

    /// Adds a line to the transcript of a contact that is over (e.g. a transcription).
    pub async fn append_line(&self, id: i64, line: &Line) -> Result<()> {
        {
            let _turn = self.turn().await;
            on_pool!(self, |p| {
                let mut tx = p.begin().await?;
                // Takes the row's write lock first (SQLite has no FOR UPDATE), so that two
                // appends at once cannot both read the same transcript.
                sqlx::query("UPDATE contacts SET transcript = transcript WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                let text: Option<String> =
                    sqlx::query_scalar("SELECT transcript FROM contacts WHERE id = $1")
                        .bind(id)
                        .fetch_optional(&mut *tx)
                        .await?;
                let text = text.ok_or_else(|| StoreError::NotFound(format!("contact {id}")))?;
                let mut lines: Vec<Line> = serde_json::from_str(&text).unwrap_or_default();
                lines.push(line.clone());
                sqlx::query("UPDATE contacts SET transcript = $1 WHERE id = $2")
                    .bind(serde_json::to_string(&lines)?)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
            });
        }
        self.written().await
    }

    /// The contact's conversation was recorded in `file`.
    pub async fn contact_recording(&self, id: i64, file: &str) -> Result<()> {
        updated(
            exec!(
                self, // Appended in one statement: legs closing together lose nothing.
                sqlx::query(
                    "UPDATE contacts SET recording = $1, recordings = CASE WHEN recordings IS NULL \
                 THEN $2 ELSE recordings || $3 || $4 END WHERE id = $5",
                )
                .bind(file)
                .bind(file)
                .bind("\n")
                .bind(file)
                .bind(id)
            )?,
            id,
        )
    }

    /// An agent answered the contact.
    pub async fn contact_connected(&self, id: i64, agent: &str, now_ms: i64) -> Result<()> {
        self.write(&Write::contact_connected(id, agent, now_ms))
            .await
    }

    /// The contact ended: into wrap-up when an agent handled it, closed otherwise.
    pub async fn contact_ended(&self, id: i64, reason: &str, now_ms: i64) -> Result<()> {
        self.write(&Write::contact_ended(id, reason, now_ms)).await
    }

    /// Records the IVR path and conversation so far.
    pub async fn contact_progress(&self, id: i64, path: &[String], lines: &[Line]) -> Result<()> {
        self.write(&Write::contact_progress(id, path, lines)?).await
    }

    /// The agent's wrap-up: the contact is closed.
    pub async fn wrap_up(&self, id: i64, w: &WrapUp, now_ms: i64) -> Result<()> {
        let done = exec!(self, sqlx::query(
            "UPDATE contacts SET status = 'closed', wrapped_ms = $1, wrapup_code = $2, notes = $3, \
             resolved = $4 WHERE id = $5 AND status = 'wrap_up'",
        )
        .bind(now_ms)
        .bind(&w.code)
        .bind(&w.notes)
        .bind(w.resolved)
        .bind(id))?;
        if done == 0 {
            return Err(StoreError::Conflict(format!(
                "contact {id} is not waiting for a wrap-up"
            )));
        }
        Ok(())
    }

    /// The contact with this id.
    pub async fn contact(&self, id: i64) -> Result<Contact> {
        let row: ContactRow = fetch!(
            self,
            fetch_optional,
            sqlx::query_as(&format!("{CONTACT} WHERE id = $1")).bind(id)
        )?
        .ok_or_else(|| StoreError::NotFound(format!("contact {id}")))?;
        row.try_into()
    }

    /// The contacts with these ids (those that exist), in no particular order: one
    /// statement for up to [`EVENTS_PER_STATEMENT`] of them (none for no ids).
    pub async fn contacts_by_id(&self, ids: &[i64]) -> Result<Vec<Contact>> {
        let mut found = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(EVENTS_PER_STATEMENT) {
            let rows: Vec<ContactRow> = on_pool!(self, |p| {
                let mut q = sqlx::QueryBuilder::new(format!("{CONTACT} WHERE id IN ("));
                let mut list = q.separated(", ");
                for id in chunk {
                    list.push_bind(*id);
                }
                q.push(")");
                q.build_query_as().fetch_all(p).await
            })?;
            for row in rows {
                found.push(row.try_into()?);
            }
        }
        Ok(found)
    }

    /// Contacts matching `f`, newest first.
    pub async fn contacts(&self, f: &ContactFilter) -> Result<Vec<Contact>> {
        let rows: Vec<ContactRow> =
            fetch!(self, fetch_all, sqlx::query_as(&format!(
            "{CONTACT} WHERE ($1 IS NULL OR agent = $2) AND ($3 IS NULL OR customer_id = $4) \
             AND ($5 IS NULL OR queue = $6) AND ($7 IS NULL OR created_ms >= $8) \
             AND ($9 IS NULL OR created_ms < $10) ORDER BY created_ms DESC, id DESC LIMIT $11"
        ))
        .bind(&f.agent)
        .bind(&f.agent)
        .bind(f.customer_id)
        .bind(f.customer_id)
        .bind(&f.queue)
        .bind(&f.queue)
        .bind(f.since_ms)
        .bind(f.since_ms)
        .bind(f.until_ms)
        .bind(f.until_ms)
        .bind(f.limit))?;
        rows.into_iter().map(Contact::try_from).collect()
    }

    /// After a restart: contacts that were in the flow, queued or connected when the server
    /// stopped are closed with reason `interrupted`. Returns their ids.
    pub async fn close_interrupted(&self, now_ms: i64) -> Result<Vec<i64>> {
        Ok(fetch_written!(
            self,
            fetch_all,
            sqlx::query_scalar(
                "UPDATE contacts SET status = 'closed', end_reason = 'interrupted', \
             ended_ms = COALESCE(ended_ms, $1) \
             WHERE status IN ('ivr', 'queued', 'connected') RETURNING id",
            )
            .bind(now_ms)
        )?)
    }

    /// Appends `events` to the event log in the order given, a statement for up to
    /// [`EVENTS_PER_STATEMENT`] of them (one round trip to the database, where one
    /// statement each cost the owner a wait for every event); answers their positions in
    /// the log, in the same order.
    pub async fn append_events(&self, events: &[NewEvent<'_>]) -> Result<Vec<i64>> {
        let mut seqs = Vec::with_capacity(events.len());
        for chunk in events.chunks(EVENTS_PER_STATEMENT) {
            let done = {
                let _turn = self.turn().await;
                on_pool!(self, |p| {
                    let mut q = sqlx::QueryBuilder::new(
                        "INSERT INTO events (at_ms, kind, contact_id, agent, queue, data) ",
                    );
                    q.push_values(chunk, |mut row, e| {
                        row.push_bind(e.at_ms)
                            .push_bind(e.kind)
                            .push_bind(e.contact)
                            .push_bind(e.agent)
                            .push_bind(e.queue)
                            .push_bind(e.data.to_string());
                    });
                    q.push(" RETURNING seq");
                    q.build_query_scalar::<i64>().fetch_all(p).await
                })
            };
            seqs.extend(in_row_order(self.durable(done).await?, chunk.len())?);
        }
        Ok(seqs)
    }

    /// The sequence number of the latest event (0 when there is none).
    pub async fn last_event_seq(&self) -> Result<i64> {
        Ok(fetch!(
            self,
            fetch_one,
            sqlx::query_scalar::<_, Option<i64>>("SELECT MAX(seq) FROM events")
        )?
        .unwrap_or(0))
    }

    /// The last event webhook `url` is done with, if it has started.
    pub async fn webhook_cursor(&self, url: &str) -> Result<Option<i64>> {
        Ok(fetch!(
            self,
            fetch_optional,
            sqlx::query_scalar("SELECT seq FROM webhook_cursors WHERE url = $1").bind(url)
        )?)
    }

    /// Webhook `url` is done with every event up to `seq`.
    pub async fn set_webhook_cursor(&self, url: &str, seq: i64) -> Result<()> {
        exec!(
            self,
            sqlx::query(
                "INSERT INTO webhook_cursors (url, seq) VALUES ($1, $2) \
             ON CONFLICT (url) DO UPDATE SET seq = excluded.seq",
            )
            .bind(url)
            .bind(seq)
        )?;
        Ok(())
    }

    /// Events after `after_seq` (optionally of one contact), oldest first.
    pub async fn events(
        &self,
        after_seq: i64,
        contact: Option<i64>,
        limit: i64,
    ) -> Result<Vec<Event>> {
        let rows: Vec<EventRow> = fetch!(
            self,
            fetch_all,
            sqlx::query_as(
                "SELECT seq, at_ms, kind, contact_id, agent, queue, data FROM events \
             WHERE seq > $1 AND ($2 IS NULL OR contact_id = $3) ORDER BY seq LIMIT $4",
            )
            .bind(after_seq)
            .bind(contact)
            .bind(contact)
            .bind(limit)
        )?;
        rows.into_iter().map(Event::try_from).collect()
    }

    /// The flow steps of the contacts that ran `flow` and started in `[from, to)`, oldest
    /// first.
    pub async fn flow_events(&self, flow: &str, from_ms: i64, to_ms: i64) -> Result<Vec<Event>> {
        let rows: Vec<EventRow> = fetch!(self, fetch_all, sqlx::query_as(
            "SELECT e.seq, e.at_ms, e.kind, e.contact_id, e.agent, e.queue, e.data FROM events e \
             JOIN contacts c ON c.id = e.contact_id \
             WHERE e.kind = 'flow.step' AND c.flow = $1 AND c.created_ms >= $2 AND c.created_ms < $3 \
             ORDER BY e.seq",
        )
        .bind(flow)
        .bind(from_ms)
        .bind(to_ms))?;
        rows.into_iter().map(Event::try_from).collect()
    }

    /// Records a callback request, routed by contact `attempt`: committed before the
    /// caller is told.
    pub async fn create_callback(
        &self,
        contact: Option<i64>,
        attempt: Option<i64>,
        queue: &str,
        number: &str,
        now_ms: i64,
    ) -> Result<Callback> {
        Ok(fetch_written!(self, fetch_one, sqlx::query_as(&format!(
            "INSERT INTO callbacks (contact_id, attempt_contact, queue, number, requested_ms, status) \
             VALUES ($1, $2, $3, $4, $5, 'pending') RETURNING {CALLBACK}"
        ))
        .bind(contact)
        .bind(attempt)
        .bind(queue)
        .bind(number)
        .bind(now_ms))?)
    }

    /// Records a follow-up callback an agent promised at wrap-up: pending, first tried at
    /// `due_ms`.
    pub async fn schedule_callback(
        &self,
        contact: i64,
        queue: &str,
        number: &str,
        due_ms: i64,
        now_ms: i64,
    ) -> Result<Callback> {
        Ok(fetch_written!(
            self,
            fetch_one,
            sqlx::query_as(&format!(
                "INSERT INTO callbacks (contact_id, queue, number, requested_ms, status, due_ms) \
             VALUES ($1, $2, $3, $4, 'pending', $5) RETURNING {CALLBACK}"
            ))
            .bind(contact)
            .bind(queue)
            .bind(number)
            .bind(now_ms)
            .bind(due_ms)
        )?)
    }

    /// A pending callback is now routed by contact `attempt`.
    pub async fn callback_attempt(&self, id: i64, attempt: i64) -> Result<()> {
        exec!(
            self,
            sqlx::query("UPDATE callbacks SET attempt_contact = $1 WHERE id = $2")
                .bind(attempt)
                .bind(id)
        )?;
        Ok(())
    }

    /// The pending callback routed by `contact` is done; false when there is none.
    pub async fn callback_done_by(&self, contact: i64) -> Result<bool> {
        let done = exec!(self, sqlx::query(
            "UPDATE callbacks SET status = 'done' WHERE attempt_contact = $1 AND status = 'pending'",
        )
        .bind(contact))?;
        Ok(done > 0)
    }

    /// Callback requests with this status (all when `None`), oldest first.
    pub async fn callbacks(&self, status: Option<&str>) -> Result<Vec<Callback>> {
        Ok(fetch!(
            self,
            fetch_all,
            sqlx::query_as(&format!(
                "SELECT {CALLBACK} FROM callbacks WHERE ($1 IS NULL OR status = $2) \
             ORDER BY requested_ms, id"
            ))
            .bind(status)
            .bind(status)
        )?)
    }

    /// Closes out one leg of a call.
    pub async fn add_call_leg(&self, leg: &CallLeg) -> Result<()> {
        self.write(&Write::call_leg(leg)).await
    }

    /// The legs of `contact`'s call, in the order they started.
    pub async fn call_legs(&self, contact: i64) -> Result<Vec<CallLeg>> {
        let rows: Vec<CallLegRow> = fetch!(self, fetch_all, sqlx::query_as(
            "SELECT contact_id, kind, party, started_ms, answered_ms, ended_ms, reason, quality \
             FROM call_legs WHERE contact_id = $1 ORDER BY started_ms, id",
        )
        .bind(contact))?;
        rows.into_iter()
            .map(|r| {
                Ok(CallLeg {
                    contact_id: r.contact_id,
                    kind: r.kind,
                    party: r.party,
                    started_ms: r.started_ms,
                    answered_ms: r.answered_ms,
                    ended_ms: r.ended_ms,
                    reason: r.reason,
                    quality: r.quality.as_deref().map(serde_json::from_str).transpose()?,
                })
            })
            .collect()
    }

    /// The pending callback with this id, if any.
    pub async fn pending_callback(&self, id: i64) -> Result<Option<Callback>> {
        Ok(fetch!(
            self,
            fetch_optional,
            sqlx::query_as(&format!(
                "SELECT {CALLBACK} FROM callbacks WHERE id = $1 AND status = 'pending'"
            ))
            .bind(id)
        )?)
    }

    /// The customer did not answer the attempt of the pending callback routed by
    /// `contact`. With fewer than `attempts` failures it is tried again at `due_ms`;
    /// otherwise it ends `no_answer`. Answers the callback (as it is now), if there was
    /// one.
    pub async fn callback_not_answered(
        &self,
        contact: i64,
        attempts: i64,
        due_ms: i64,
    ) -> Result<Option<Callback>> {
        Ok(
            fetch_written!(self, fetch_optional, sqlx::query_as(&format!(
            "UPDATE callbacks SET failed_attempts = failed_attempts + 1, attempt_contact = NULL, \
             due_ms = $1, status = CASE WHEN failed_attempts + 1 >= $2 THEN 'no_answer' \
             ELSE status END \
             WHERE attempt_contact = $3 AND status = 'pending' RETURNING {CALLBACK}"
        ))
        .bind(due_ms)
        .bind(attempts)
        .bind(contact))?,
        )
    }

    /// Marks a pending callback `done` or `cancelled`.
    pub async fn finish_callback(&self, id: i64, status: &str) -> Result<()> {
        let done = exec!(
            self,
            sqlx::query("UPDATE callbacks SET status = $1 WHERE id = $2 AND status = 'pending'")
                .bind(status)
                .bind(id)
        )?;
        if done == 0 {
            return Err(StoreError::NotFound(format!("pending callback {id}")));
        }
        Ok(())
    }
}
