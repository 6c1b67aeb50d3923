//! The Switchboard server: wires the store, the runtime (routing engine, flow sessions,
//! KPIs) and the HTTP edge together, imports a company's configuration, and shuts down
//! gracefully.

pub mod api;
pub mod auth;
pub mod calls;
pub mod center;
pub mod config;
pub mod kpi;
pub mod lease;
pub mod reports;
pub mod runtime;
pub mod setup;
pub mod simulate;
pub mod web;
pub mod webhooks;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use switchboard_store::{Store, User};
use tokio::sync::oneshot;

use crate::api::AppState;
use crate::center::Center;
use crate::config::Config;
use crate::runtime::{Runtime, now_ms};
use crate::setup::{AgentConfig, Company, QueueConfig};

/// A running server.
pub struct Server {
    /// The HTTP address it listens on.
    pub addr: SocketAddr,
    /// The SIP address it listens on (UDP and TCP).
    pub sip: SocketAddr,
    /// Contacts closed as interrupted at start (in progress when it last stopped).
    pub interrupted: Vec<i64>,
    /// The database it keeps everything in: `sqlite` or `postgres`.
    pub database: &'static str,
    /// Its node name, under which it owns the tenant.
    pub node: String,
    stop: oneshot::Sender<()>,
    /// Ends when the server has stopped: with why, when it stopped by itself.
    task: tokio::task::JoinHandle<Option<String>>,
}

impl Server {
    /// Stops accepting requests, finishes those in flight, and stops the runtime.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }

    /// Runs until Ctrl-C or SIGTERM, then stops gracefully; or until it stops by itself
    /// (it lost the ownership of its tenant): an error saying why.
    pub async fn run_until_signal(mut self) -> anyhow::Result<()> {
        tokio::select! {
            _ = shutdown_signal() => {
                tracing::info!("shutting down");
                self.stop().await;
                Ok(())
            }
            stopped = &mut self.task => match stopped {
                Ok(Some(why)) => anyhow::bail!("stopped: {why}"),
                Ok(None) => Ok(()),
                Err(e) => anyhow::bail!("stopped: {e}"),
            },
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("a SIGTERM handler can be installed");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

/// Starts the server: opens (and migrates) the database, closes out contacts a previous
/// run left in progress, imports the company file, loads the configuration into the
/// runtime, and listens.
pub async fn start(config: &Config) -> anyhow::Result<Server> {
    std::fs::create_dir_all(&config.data)
        .map_err(|e| anyhow::anyhow!("data directory {}: {e}", config.data.display()))?;
    let store = match &config.database {
        Some(url) => Store::connect(url).await?,
        None => Store::open(&config.data.join("switchboard.db")).await?,
    };
    let database = store.backend();
    // Nothing is changed before this server owns the tenant: another one may be running
    // on the same database.
    let node = lease::node_name(config.cluster.node.as_deref());
    let lease_len = Duration::from_secs(config.cluster.lease_secs.max(1));
    let held_until = lease::acquire(&store, &node, lease_len).await?;
    let interrupted = store.close_interrupted(now_ms()).await?;
    if !interrupted.is_empty() {
        tracing::warn!(
            "closed {} contacts left in progress as interrupted",
            interrupted.len()
        );
    }
    // Where flows' relative paths (audio, calendar files) are found: the company's flows,
    // or the data directory's.
    let flow_dir = match &config.company {
        Some(path) => {
            import(&store, path, &config.voice.realm).await?;
            company_dir(path).join("flows")
        }
        None => config.data.join("flows"),
    };
    let mut center = Center::new(config.kpi, config.seed);
    let now = now_ms();
    for (name, q) in store.configs::<QueueConfig>("queue").await? {
        center.configure_queue(&name, &q, now)?;
    }
    for (login, a) in store.configs::<AgentConfig>("agent").await? {
        center.configure_agent(&login, &a, now)?;
    }
    // Callbacks still pending are routed again (their earlier contact was interrupted),
    // or when their next attempt is due.
    for cb in store.callbacks(Some("pending")).await? {
        match cb.due_ms.filter(|due| *due > now) {
            Some(due) => center.retry_callback(cb.id, due),
            None => runtime::route_callback(&store, &mut center, &cb).await?,
        }
    }
    let (edge_events, edge_rx) = tokio::sync::mpsc::unbounded_channel();
    let voice = switchboard_voice::start(
        switchboard_voice::VoiceConfig {
            sip: config.sip,
            media_ip: config.voice.media_ip,
            audio_dir: flow_dir.clone(),
            cache_dir: config.data.join("prompts"),
            recordings_dir: config.data.join("recordings"),
            voicemail_dir: config.data.join("voicemail"),
            voice: config.voice.tts_voice.clone(),
            max_calls: config.voice.max_calls,
            relay_threads: config.voice.relay_threads,
            kernel_media: config.voice.kernel_media,
            realm: config.voice.realm.clone(),
            trunk: config.voice.trunk.clone(),
            trunk_auth: config.trunk_auth().map_err(|e| anyhow::anyhow!(e))?,
        },
        edge_events,
    )
    .await
    .map_err(|e| anyhow::anyhow!("SIP address {}: {e}", config.sip))?;
    let sip = voice.local_addr();
    center.set_outbound(config.voice.trunk.is_some());
    let (runtime, owner) = Runtime::start(center, store.clone(), voice.handle());
    let voicemail = calls::Voicemail {
        dir: config.data.join("voicemail"),
        transcribe_url: config.voice.transcribe_url.clone(),
    };
    let calls = tokio::spawn(calls::follow(
        runtime.clone(),
        store.clone(),
        voicemail,
        edge_rx,
    ));
    let (stopping_tx, stopping) = tokio::sync::watch::channel(false);
    webhooks::start(
        config.webhooks.clone(),
        store.clone(),
        &runtime,
        stopping.clone(),
    );
    let state = AppState {
        store: store.clone(),
        runtime,
        logins: Arc::default(),
        chats: Arc::default(),
        metrics: Arc::default(),
        flow_dir,
        recordings: config.data.join("recordings"),
        stopping,
        voice: voice.handle(),
        realm: config.voice.realm.clone(),
    };
    // Applies what the center did before the owner task started (resumed callbacks).
    state.runtime.run(|_, _| ()).await?;
    api::reload(&state)
        .await
        .map_err(|e| anyhow::anyhow!("loading flows: {e:?}"))?;
    let listener = tokio::net::TcpListener::bind(config.http)
        .await
        .map_err(|e| anyhow::anyhow!("HTTP address {}: {e}", config.http))?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel::<()>();
    let app = api::router(state);
    let kept = lease::keep(store.clone(), node.clone(), lease_len, held_until);
    let owner_node = node.clone();
    let task = tokio::spawn(async move {
        let (lost_tx, lost) = oneshot::channel();
        let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
            tokio::select! {
                _ = stopped => {}
                why = kept => {
                    tracing::error!("stopping: {why}");
                    let _ = lost_tx.send(why);
                }
            }
            // Event streams never end by themselves: tell them to.
            let _ = stopping_tx.send(true);
        });
        if let Err(e) = serve.await {
            tracing::error!("HTTP server: {e}");
        }
        // Calls are hung up; their contacts stay in progress, closed as interrupted at the
        // next start.
        voice.shutdown().await;
        let _ = calls.await;
        // Every handle to the runtime is gone: the owner task ends.
        let _ = owner.await;
        let lost = lost.await.ok();
        if lost.is_none()
            && let Err(e) = store.release_owner(lease::TENANT, &owner_node).await
        {
            tracing::warn!("releasing the lease: {e}");
        }
        store.close().await;
        lost
    });
    Ok(Server {
        addr,
        sip,
        interrupted,
        database,
        node,
        stop,
        task,
    })
}

fn company_dir(path: &Path) -> &Path {
    path.parent().unwrap_or(Path::new("."))
}

/// Imports a company file: queues, agents, numbers and wrap-up codes are created or
/// replaced; flows are published when their text differs from the active version; users
/// are created when missing (existing passwords are kept); articles and customers are added
/// when their tables are empty.
pub async fn import(store: &Store, path: &Path, realm: &str) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let company: Company =
        toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let dir = company_dir(path);
    let now = now_ms();
    for (name, q) in &company.queues {
        q.validate()
            .map_err(|e| anyhow::anyhow!("queue {name}: {e}"))?;
        store.put_config("queue", name, q, now).await?;
    }
    for (login, a) in &company.agents {
        if let Some(q) = a.queues.keys().find(|q| !company.queues.contains_key(*q)) {
            anyhow::bail!("agent {login}: unknown queue `{q}`");
        }
        store.put_config("agent", login, a, now).await?;
    }
    for (code, label) in &company.wrapup_codes {
        store.put_config("wrapup", code, label, now).await?;
    }
    let active = store.active_flows().await?;
    for file in &company.flows {
        let p = dir.join(file);
        let source =
            std::fs::read_to_string(&p).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?;
        let checked = switchboard_flow::check::check(&source, p.parent());
        let Some(flow) = checked.flow else {
            let first = checked
                .diagnostics
                .first()
                .map(|d| d.render(&p.display().to_string()));
            anyhow::bail!(
                "{}",
                first.unwrap_or_else(|| format!("{}: does not load", p.display()))
            );
        };
        if !active
            .iter()
            .any(|v| v.flow == flow.id && v.source == source)
        {
            store.publish_flow(&flow.id, &source, now).await?;
        }
    }
    for (address, flow) in &company.numbers {
        store.put_config("number", address, flow, now).await?;
    }
    for u in &company.users {
        if let Some(password) = &u.sip_password {
            // The phone registers as the agent login, or the user's name (supervisors).
            let phone = u.agent.as_ref().unwrap_or(&u.name);
            let ha1 = switchboard_voice::registrar::ha1(phone, realm, password);
            store.put_sip_account(phone, realm, &ha1).await?;
        }
        if store.user(&u.name).await?.is_none() {
            store
                .put_user(&User {
                    name: u.name.clone(),
                    role: u.role,
                    agent: u.agent.clone(),
                    password_hash: auth::hash_password(u.password.clone())
                        .await
                        .ok_or_else(|| anyhow::anyhow!("the server is shutting down"))?,
                })
                .await?;
        }
    }
    if store.articles().await?.is_empty() {
        for a in &company.articles {
            store.add_article(a).await?;
        }
    }
    if store.search_customers("", 1).await?.is_empty() {
        for c in &company.customers {
            store.create_customer(c, now).await?;
        }
    }
    Ok(())
}
