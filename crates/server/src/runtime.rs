//! The owner task: the one place that drives a tenant's [`Center`]. The API sends it jobs;
//! it runs each against the center with the current time, makes the resulting effects
//! durable in the store, publishes notices, and only then answers the job.
//!
//! Architecture invariant: the center is touched by this task alone, and a job's answer is
//! sent after its effects are committed ("durable before acknowledged").

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::json;
use switchboard_flow::interp::FieldValue;
use switchboard_routing::Channel;
use switchboard_store::{
    Article, Contact, ContactFilter, Customer, NewContact, NewEvent, Store, StoreError, Write,
};
use switchboard_voice::{CallCommand, CommandSender, VoiceHandle, command_channel};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::time::Instant;

use crate::center::{Center, Effect, Notice, Refused};

/// The current time in milliseconds since the epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Work for the owner.
enum Job {
    /// A function of the center, answered through its reply once its effects are durable.
    Run(Work),
    /// A new contact, recorded and started in the group ([`start_contact`]).
    Start(Start),
}

/// A job's function of the center: what it does now, and its reply.
type Work = Box<dyn FnOnce(&mut Center, i64) -> Reply + Send>;

/// Answers a job once its group's effects are durable (or could not be made so).
type Reply = Box<dyn FnOnce(Result<(), String>) + Send>;

/// A new contact of the group's, recorded and started at the end of the group.
struct Starting {
    /// The job that asked for it (its position in the group).
    job: usize,
    new: NewContact,
    channel: Channel,
    data: Option<BTreeMap<String, FieldValue>>,
    before_start: Box<dyn FnOnce(i64) + Send>,
    answer: oneshot::Sender<Result<i64, StartError>>,
}

/// The reply to a [`Job::Start`]: the contact's id (or why it did not start) once the
/// group is durable.
fn started(
    answer: oneshot::Sender<Result<i64, StartError>>,
    result: Result<i64, StartError>,
) -> Reply {
    Box::new(move |durable: Result<(), String>| {
        let _ = answer.send(
            durable
                .map_err(|e| StartError::Run(RunError::Store(e)))
                .and(result),
        );
    })
}

/// A contact to record and start.
struct Start {
    channel: Channel,
    from: String,
    to: String,
    customer_id: Option<i64>,
    /// The customer as the flow sees them.
    data: Option<BTreeMap<String, FieldValue>>,
    before_start: Box<dyn FnOnce(i64) + Send>,
    answer: oneshot::Sender<Result<i64, StartError>>,
}

/// A handle to the owner task.
#[derive(Clone)]
pub struct Runtime {
    jobs: mpsc::Sender<Job>,
    notices: broadcast::Sender<Arc<Notice>>,
    calls: Calls,
}

/// The phone calls of voice contacts: where their commands go.
type Calls = Arc<Mutex<HashMap<i64, CommandSender>>>;

/// Why a job could not be done.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The owner task has stopped (shutting down).
    #[error("the runtime is shutting down")]
    Stopped,
    /// The effects could not be made durable.
    #[error("storing failed: {0}")]
    Store(String),
}

impl Runtime {
    /// Starts the owner task for `center`.
    pub fn start(
        center: Center,
        store: Store,
        dialer: VoiceHandle,
    ) -> (Runtime, tokio::task::JoinHandle<()>) {
        let (jobs, rx) = mpsc::channel(1024);
        let (notices, _) = broadcast::channel(4096);
        let calls = Calls::default();
        let owner = Owner {
            center,
            store,
            notices: notices.clone(),
            http: reqwest::Client::new(),
            calls: Arc::clone(&calls),
            dialer,
            held: Vec::new(),
            writes: Vec::new(),
            job: None,
            failed: Vec::new(),
            starts: Vec::new(),
            dirty: false,
            open: false,
        };
        // The owner has a thread of its own: on the shared workers it would wait behind
        // every call's media task at each await, and fall behind under load.
        let task = tokio::task::spawn_blocking(move || owner.run_alone(rx));
        (
            Runtime {
                jobs,
                notices,
                calls,
            },
            task,
        )
    }

    /// Sends `command` to voice contact `contact`'s call, if it is still on.
    pub fn command(&self, contact: i64, command: CallCommand) {
        if let Some(call) = self.calls.lock().expect("not poisoned").get(&contact) {
            let _ = call.unbounded_send(command);
        }
    }

    /// Sends the call commands of voice contact `contact` to `commands` from now on.
    pub fn attach_call(&self, contact: i64, commands: CommandSender) {
        self.calls
            .lock()
            .expect("not poisoned")
            .insert(contact, commands);
    }

    /// Runs `f` on the center; answers once its effects are durable.
    pub async fn run<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Center, i64) -> R + Send + 'static,
    ) -> Result<R, RunError> {
        self.submit(f).await.await
    }

    /// Queues `f` to run on the center, after every job queued before it; the answer,
    /// to be awaited (or dropped), comes once its effects are durable. A caller that
    /// queues jobs one after another without waiting for their answers keeps their order
    /// while the owner commits them together.
    pub async fn submit<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Center, i64) -> R + Send + 'static,
    ) -> impl Future<Output = Result<R, RunError>> + Send + 'static {
        let (tx, rx) = oneshot::channel();
        let job = Job::Run(Box::new(move |center, now| {
            let r = f(center, now);
            Box::new(move |durable: Result<(), String>| {
                let _ = tx.send(durable.map(|()| r));
            })
        }));
        let queued = self.jobs.send(job).await;
        async move {
            queued.map_err(|_| RunError::Stopped)?;
            rx.await
                .map_err(|_| RunError::Stopped)?
                .map_err(RunError::Store)
        }
    }

    /// The live stream of notices.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Notice>> {
        self.notices.subscribe()
    }
}

struct Owner {
    center: Center,
    store: Store,
    notices: broadcast::Sender<Arc<Notice>>,
    http: reqwest::Client,
    calls: Calls,
    dialer: VoiceHandle,
    /// Notices of the group, appended to the event log and published at its sync.
    held: Vec<Notice>,
    /// Writes of the group not yet run, each with the job it is for (none for a timer's):
    /// run together before the group's next read of the store, or at its sync.
    writes: Vec<(Option<usize>, Write)>,
    /// The job of the group that is running (its position in the group).
    job: Option<usize>,
    /// Jobs of the group whose writes failed, and why.
    failed: Vec<(usize, String)>,
    /// The group's new contacts, recorded and started together before its sync.
    starts: Vec<Starting>,
    /// Something was written since the last sync.
    dirty: bool,
    /// The group's writes share a transaction, committed at the sync.
    open: bool,
}

/// Most jobs whose effects are made durable together.
const GROUP: usize = 64;

impl Owner {
    /// Runs the owner on a current-thread runtime of its own, on this thread.
    fn run_alone(self, jobs: mpsc::Receiver<Job>) {
        match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt.block_on(self.run(jobs)),
            Err(e) => tracing::error!("no runtime for the owner task: {e}"),
        }
    }

    /// Runs jobs and timers. Group commit: the jobs waiting when one arrives run one
    /// after another, their effects are stored, then one flush to disk makes them all
    /// durable before any is answered or its notices published.
    async fn run(mut self, mut jobs: mpsc::Receiver<Job>) {
        match self.store.group_writer().await {
            Ok(writer) => self.store = writer,
            Err(e) => tracing::error!("no group-commit connection ({e}); committing one by one"),
        }
        loop {
            let wake = self.center.next_deadline().map(|at| {
                let wait = u64::try_from(at - now_ms()).unwrap_or(0);
                Instant::now() + Duration::from_millis(wait)
            });
            tokio::select! {
                job = jobs.recv() => {
                    let Some(job) = job else { break };
                    let mut replies = Vec::new();
                    let mut next = Some(job);
                    while let Some(job) = next.take() {
                        let now = now_ms();
                        // Timers that are due go first, each time: while jobs keep
                        // coming, the timer's branch below would be taken only now and
                        // then (e.g. agents kept in a finished wrap-up).
                        if self.center.next_deadline().is_some_and(|at| at <= now) {
                            self.job = None;
                            self.center.tick(now);
                            // Each failed effect is logged.
                            let _ = self.apply().await;
                        }
                        self.job = Some(replies.len());
                        let reply = match job {
                            Job::Run(f) => f(&mut self.center, now),
                            Job::Start(start) => self.start(start, replies.len()),
                        };
                        replies.push((reply, self.apply().await));
                        if replies.len() < GROUP {
                            next = jobs.try_recv().ok();
                        }
                    }
                    self.job = None;
                    self.start_all(&mut replies).await;
                    let synced = self.sync().await;
                    for (job, e) in self.failed.drain(..) {
                        if let Some((_, applied @ Ok(()))) = replies.get_mut(job) {
                            *applied = Err(e);
                        }
                    }
                    for (reply, applied) in replies {
                        reply(applied.and(synced.clone()));
                    }
                }
                () = sleep_until(wake) => {
                    self.center.tick(now_ms());
                    if let Err(e) = self.apply().await.and(self.sync().await) {
                        tracing::error!("storing the effects of a timer failed: {e}");
                    }
                }
            }
        }
    }

    /// Runs the group's writes, fills in the screen pops of its offers, appends its
    /// notices to the event log (one statement for the whole group), makes all that
    /// durable, then publishes the notices. Jobs that wrote nothing (reads of the center)
    /// need no flush.
    async fn sync(&mut self) -> Result<(), String> {
        if !std::mem::take(&mut self.dirty) {
            return Ok(());
        }
        self.flush().await;
        // Published only once in the log and durable.
        let mut notices = std::mem::take(&mut self.held);
        let offered = |n: &Notice| n.contact.filter(|_| n.kind == "contact.offered");
        let ids: Vec<i64> = notices.iter().filter_map(offered).collect();
        // Read in one statement, after the group's writes.
        let contacts: Result<HashMap<i64, Contact>, String> = self
            .store
            .contacts_by_id(&ids)
            .await
            .map(|found| found.into_iter().map(|c| (c.id, c)).collect())
            .map_err(|e| e.to_string());
        let mut articles = HashMap::new();
        for n in &mut notices {
            let Some(id) = offered(n) else { continue };
            let pop = match contacts.as_ref().map(|found| found.get(&id)) {
                Ok(Some(c)) => screen_pop(&self.store, c, &mut articles)
                    .await
                    .map_err(|e| e.to_string()),
                Ok(None) => Err(format!("contact {id} not found")),
                Err(e) => Err(e.clone()),
            };
            n.data["screen_pop"] = pop.unwrap_or_else(|e| json!({ "error": e }));
        }
        let events: Vec<NewEvent> = notices
            .iter()
            .map(|n| NewEvent {
                at_ms: n.at_ms,
                kind: &n.kind,
                contact: n.contact,
                agent: n.agent.as_deref(),
                queue: n.queue.as_deref(),
                data: &n.data,
            })
            .collect();
        let appended = match self.store.append_events(&events).await {
            Ok(seqs) => {
                for (n, seq) in notices.iter_mut().zip(seqs) {
                    n.seq = seq;
                }
                Ok(())
            }
            Err(e) => Err(e),
        };
        let committed = if std::mem::take(&mut self.open) {
            self.store.commit_group().await
        } else {
            Ok(())
        };
        let synced = match appended.and(committed) {
            Ok(()) => self.store.sync().await,
            Err(e) => Err(e),
        }
        .map_err(|e| format!("store: {e}"));
        if synced.is_ok() {
            for notice in notices {
                let _ = self.notices.send(Arc::new(notice));
            }
        }
        synced
    }

    /// Opens the group's transaction (where the store has them) and runs the writes
    /// collected so far, in one round trip where the store can; the store then has
    /// everything the group did so far. A failed write fails its job's answer.
    async fn flush(&mut self) {
        if !self.open {
            match self.store.begin_group().await {
                Ok(open) => self.open = open,
                Err(e) => tracing::warn!("no transaction for the group ({e}): writing one by one"),
            }
        }
        if self.writes.is_empty() {
            return;
        }
        let (jobs, writes): (Vec<_>, Vec<_>) = std::mem::take(&mut self.writes).into_iter().unzip();
        for (job, result) in jobs.into_iter().zip(self.store.write_all(&writes).await) {
            if let Err(e) = result {
                tracing::error!("store: {e}");
                if let Some(job) = job {
                    self.failed.push((job, format!("store: {e}")));
                }
            }
        }
    }

    /// Takes a new contact into the group, to be recorded and started with the group's
    /// others ([`Owner::start_all`]), which sets its reply.
    fn start(&mut self, start: Start, job: usize) -> Reply {
        let Some(flow) = self.center.flow_for(&start.to) else {
            return started(start.answer, Err(StartError::NoFlow(start.to)));
        };
        self.starts.push(Starting {
            job,
            new: NewContact {
                channel: crate::center::channel_name(start.channel).into(),
                address: start.from,
                dialed: start.to,
                customer_id: start.customer_id,
                flow: Some(flow.to_string()),
            },
            channel: start.channel,
            data: start.data,
            before_start: start.before_start,
            answer: start.answer,
        });
        Box::new(|_| {})
    }

    /// Records the group's new contacts (in one statement where the store can), starts
    /// them in their flows in the order they came, and sets their jobs' replies.
    async fn start_all(&mut self, replies: &mut [(Reply, Result<(), String>)]) {
        if self.starts.is_empty() {
            return;
        }
        let starts = std::mem::take(&mut self.starts);
        // In the group's transaction.
        self.flush().await;
        let new: Vec<NewContact> = starts.iter().map(|s| s.new.clone()).collect();
        let ids = self.store.create_contacts(&new, now_ms()).await;
        for (i, s) in starts.into_iter().enumerate() {
            let result = match ids.as_ref().map(|ids| ids.get(i)) {
                Ok(Some(&id)) => {
                    (s.before_start)(id);
                    self.job = Some(s.job);
                    let result = self.center.start(
                        id,
                        s.channel,
                        &s.new.address,
                        &s.new.dialed,
                        s.data,
                        now_ms(),
                    );
                    let applied = self.apply().await;
                    if let (Err(e), Some((_, ok @ Ok(())))) = (applied, replies.get_mut(s.job)) {
                        *ok = Err(e);
                    }
                    result.map(|()| id).map_err(StartError::from)
                }
                Ok(None) => Err(StartError::Run(RunError::Store("no id recorded".into()))),
                Err(e) => Err(StartError::Run(RunError::Store(format!("store: {e}")))),
            };
            if let Some((reply, _)) = replies.get_mut(s.job) {
                *reply = started(s.answer, result);
            }
        }
        self.job = None;
    }

    /// Holds a write of the group's until its next [`Owner::flush`].
    fn write(&mut self, w: Write) -> Result<(), StoreError> {
        self.writes.push((self.job, w));
        Ok(())
    }

    /// Applies the center's effects until none are left (lookups produce more).
    async fn apply(&mut self) -> Result<(), String> {
        let mut first_error = None;
        loop {
            let effects = self.center.take_effects();
            if effects.is_empty() {
                break;
            }
            self.dirty = true;
            for effect in effects {
                if let Err(e) = self.apply_one(effect).await {
                    tracing::error!("{e}");
                    first_error.get_or_insert(e);
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    async fn apply_one(&mut self, effect: Effect) -> Result<(), String> {
        // Effects that read the store see the group's writes so far.
        if matches!(
            effect,
            Effect::RouteCallback { .. } | Effect::Callback { .. } | Effect::Lookup { .. }
        ) {
            self.flush().await;
        }
        let s = &self.store;
        let r = match effect {
            Effect::Queued { contact, queue } => {
                self.write(Write::contact_queued(contact, &queue, now_ms()))
            }
            Effect::Dequeued { contact } => self.write(Write::contact_dequeued(contact)),
            Effect::Transferred { contact, queue } => {
                self.write(Write::contact_transferred(contact, &queue))
            }
            Effect::Forwarded { contact, number } => {
                self.write(Write::contact_forwarded(contact, &number))
            }
            Effect::RouteCallback { id } => match s.pending_callback(id).await {
                Ok(Some(cb)) => route_callback(s, &mut self.center, &cb).await,
                // Cancelled or done meanwhile.
                Ok(None) => Ok(()),
                Err(e) => Err(e),
            },
            Effect::Connected { contact, agent } => {
                self.write(Write::contact_connected(contact, &agent, now_ms()))
            }
            Effect::Ended { contact, reason } => {
                self.calls.lock().expect("not poisoned").remove(&contact);
                self.write(Write::contact_ended(contact, &reason, now_ms()))
            }
            Effect::Dial { contact, number } => {
                let (commands, rx) = command_channel();
                self.calls
                    .lock()
                    .expect("not poisoned")
                    .insert(contact, commands);
                if let Err(e) = self.dialer.dial(contact, &number, rx) {
                    tracing::error!(contact, "callback not dialed: {e}");
                }
                Ok(())
            }
            Effect::Call { contact, command } => {
                if let Some(call) = self.calls.lock().expect("not poisoned").get(&contact) {
                    // A call that has gone no longer listens; its contact ends separately.
                    let _ = call.unbounded_send(command);
                }
                Ok(())
            }
            Effect::Leg(leg) => self.write(Write::call_leg(&leg)),
            Effect::Progress {
                contact,
                path,
                lines,
            } => Write::contact_progress(contact, &path, &lines).and_then(|w| self.write(w)),
            Effect::Callback {
                contact,
                queue,
                number,
                kept_place: true,
            } => s
                .create_callback(Some(contact), Some(contact), &queue, &number, now_ms())
                .await
                .map(|_| ()),
            Effect::Callback {
                contact,
                queue,
                number,
                kept_place: false,
            } => match s
                .create_callback(Some(contact), None, &queue, &number, now_ms())
                .await
            {
                Ok(cb) => route_callback(s, &mut self.center, &cb).await,
                Err(e) => Err(e),
            },
            Effect::Lookup {
                contact,
                source,
                key,
                url,
            } => {
                let record = lookup(&self.store, &self.http, &source, &key, url.as_deref()).await;
                self.center
                    .lookup_result(contact, record.as_ref(), now_ms());
                Ok(())
            }
            Effect::Notice(n) => {
                // Appended to the log with the group's others at its sync (an offer's
                // screen pop filled in there).
                self.held.push(n);
                Ok(())
            }
        };
        r.map_err(|e| format!("store: {e}"))
    }
}

/// Why a contact could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// No flow answers the address.
    #[error("no flow answers `{0}`")]
    NoFlow(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The runtime is stopping or could not store.
    #[error(transparent)]
    Run(#[from] RunError),
    /// The center refused.
    #[error(transparent)]
    Refused(#[from] Refused),
}

/// Starts a contact on `channel` from `from` (a number or handle) to the address `to`:
/// identifies the customer, then, in one job of the owner, finds the flow that answers
/// `to`, records the contact, calls `before_start` with its id and starts the flow;
/// answers once the contact is durable (before the customer hears anything).
pub async fn start_contact(
    runtime: &Runtime,
    store: &Store,
    channel: Channel,
    from: &str,
    to: &str,
    before_start: impl FnOnce(i64) + Send + 'static,
) -> Result<i64, StartError> {
    let customer = store.customer_by_address(from).await?;
    let data = match &customer {
        Some(c) => Some(profile(store, c).await?),
        None => None,
    };
    let (answer, started) = oneshot::channel();
    let start = Start {
        channel,
        from: from.to_string(),
        to: to.to_string(),
        customer_id: customer.map(|c| c.id),
        data,
        before_start: Box::new(before_start),
        answer,
    };
    runtime
        .jobs
        .send(Job::Start(start))
        .await
        .map_err(|_| RunError::Stopped)?;
    started.await.map_err(|_| RunError::Stopped)?
}

/// Answers a flow's lookup: the customer store, or a web service returning a JSON object
/// (any failure, a 404 included, answers "nothing found").
async fn lookup(
    store: &Store,
    http: &reqwest::Client,
    source: &str,
    key: &str,
    url: Option<&str>,
) -> Option<BTreeMap<String, FieldValue>> {
    if let Some(url) = url {
        let response = http
            .get(url)
            .timeout(Duration::from_secs(3))
            .send()
            .await
            .ok()?;
        if !response.status().is_success() {
            return None;
        }
        let body: serde_json::Map<String, serde_json::Value> = response.json().await.ok()?;
        return Some(
            body.into_iter()
                .filter_map(|(k, v)| Some((k, field(&v)?)))
                .collect(),
        );
    }
    if source != "customers" {
        return None;
    }
    let customer = match key.parse::<i64>() {
        Ok(id) if !key.starts_with('+') => store.customer(id).await.ok(),
        _ => store.customer_by_address(key).await.ok().flatten(),
    }?;
    profile(store, &customer).await.ok()
}

/// Routes a pending callback request as a new `callback` contact (recorded first).
pub async fn route_callback(
    store: &Store,
    center: &mut Center,
    cb: &switchboard_store::Callback,
) -> Result<(), switchboard_store::StoreError> {
    let customer = match cb.contact_id {
        Some(origin) => store.contact(origin).await?.customer_id,
        None => None,
    };
    let new = switchboard_store::NewContact {
        channel: "callback".into(),
        address: cb.number.clone(),
        dialed: cb.queue.clone(),
        customer_id: customer,
        flow: None,
    };
    let id = store.create_contact(&new, now_ms()).await?;
    store.callback_attempt(cb.id, id).await?;
    if let Err(e) = center.enqueue_callback(id, &cb.queue, &cb.number, now_ms()) {
        tracing::error!("callback {}: {e}", cb.id);
        store
            .contact_ended(id, &format!("failed:{e}"), now_ms())
            .await?;
    }
    Ok(())
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn field(v: &serde_json::Value) -> Option<FieldValue> {
    Some(match v {
        serde_json::Value::String(s) => FieldValue::Text(s.clone()),
        serde_json::Value::Bool(b) => FieldValue::Bool(*b),
        serde_json::Value::Number(n) => FieldValue::Int(n.as_i64()?),
        serde_json::Value::Array(items) => FieldValue::List(
            items
                .iter()
                .filter_map(|i| i.as_str().map(str::to_string))
                .collect(),
        ),
        _ => return None,
    })
}

/// A customer as a flow sees them (`customer.*`).
pub async fn profile(
    store: &Store,
    c: &Customer,
) -> Result<BTreeMap<String, FieldValue>, switchboard_store::StoreError> {
    let history = store
        .contacts(&ContactFilter {
            customer_id: Some(c.id),
            limit: 20,
            ..ContactFilter::default()
        })
        .await?;
    let open_cases = store
        .cases_of(c.id)
        .await?
        .iter()
        .filter(|k| k.status == "open")
        .count();
    let (first, last) = c.name.split_once(' ').unwrap_or((&c.name, ""));
    let mut m = BTreeMap::new();
    let text = |s: &Option<String>| FieldValue::Text(s.clone().unwrap_or_default());
    m.insert("found".into(), FieldValue::Bool(true));
    m.insert("id".into(), FieldValue::Text(c.id.to_string()));
    m.insert("first_name".into(), FieldValue::Text(first.into()));
    m.insert("last_name".into(), FieldValue::Text(last.into()));
    m.insert("language".into(), text(&c.language));
    m.insert("segment".into(), text(&c.segment));
    m.insert("tier".into(), text(&c.tier));
    m.insert("account_owner".into(), text(&c.account_owner));
    m.insert(
        "open_cases".into(),
        FieldValue::Int(i64::try_from(open_cases).unwrap_or(0)),
    );
    // The latest contact that has ended (the one in progress is not history yet).
    let last_contact = history.iter().find(|h| h.ended_ms.is_some());
    m.insert(
        "last_agent".into(),
        text(&last_contact.and_then(|h| h.agent.clone())),
    );
    m.insert(
        "last_contact_reason".into(),
        text(&last_contact.and_then(|h| h.wrapup_code.clone())),
    );
    m.insert(
        "last_contact_resolved".into(),
        FieldValue::Bool(last_contact.and_then(|h| h.resolved).unwrap_or(false)),
    );
    m.insert("products".into(), FieldValue::List(Vec::new()));
    Ok(m)
}

/// What an agent sees when a contact is offered: who, why, their history and suggested
/// articles (those found for the same words are kept in `articles`, for the group).
async fn screen_pop(
    store: &Store,
    c: &Contact,
    articles: &mut HashMap<String, Vec<Article>>,
) -> Result<serde_json::Value, switchboard_store::StoreError> {
    let customer = match c.customer_id {
        Some(id) => Some(store.customer(id).await?),
        None => None,
    };
    let (history, cases) = match &customer {
        Some(k) => (
            store
                .contacts(&ContactFilter {
                    customer_id: Some(k.id),
                    limit: 6,
                    ..ContactFilter::default()
                })
                .await?
                .into_iter()
                .filter(|h| h.id != c.id)
                .take(5)
                .collect(),
            store.cases_of(k.id).await?,
        ),
        None => (Vec::new(), Vec::new()),
    };
    let words = c
        .ivr_path
        .iter()
        .chain(c.queue.iter())
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(" ");
    let articles = match articles.get(&words) {
        Some(found) => found.clone(),
        None => {
            let found = store.search_articles(&words, 3).await?;
            articles.entry(words).or_insert(found).clone()
        }
    };
    Ok(json!({
        "contact": { "id": c.id, "channel": c.channel, "address": c.address, "dialed": c.dialed, "queue": c.queue },
        "customer": customer,
        "ivr_path": c.ivr_path,
        "transcript": c.transcript,
        "history": history,
        "open_cases": cases.into_iter().filter(|k| k.status == "open").collect::<Vec<_>>(),
        "articles": articles,
    }))
}
