//! Users and tokens, configuration documents, and flow versions.

use serde::{Deserialize, Serialize};

use crate::{Result, Store, StoreError, exec, fetch, from_json, on_pool};

/// What a user may do.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Handles contacts; sees their own contacts.
    Agent,
    /// Watches and manages queues and agents; sees every contact.
    Supervisor,
    /// Configures everything.
    Admin,
}

impl Role {
    /// The stored name.
    pub fn name(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Supervisor => "supervisor",
            Role::Admin => "admin",
        }
    }

    /// The role called `name`.
    pub fn parse(name: &str) -> Option<Role> {
        match name {
            "agent" => Some(Role::Agent),
            "supervisor" => Some(Role::Supervisor),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// A person or integration that can sign in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct User {
    /// Login name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// The agent this user works as, if any.
    pub agent: Option<String>,
    /// Argon2 PHC string.
    #[serde(skip)]
    pub password_hash: String,
}

/// A bearer token, as stored: only its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// The user it signs in.
    pub user: String,
    /// `session` (from a password login) or `api` (an integration's).
    pub kind: String,
    /// Expiry (ms since the epoch), if any.
    pub expires_ms: Option<i64>,
}

/// One published version of a flow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FlowVersion {
    /// Flow id.
    pub flow: String,
    /// Version number, from 1.
    pub version: i64,
    /// The YAML.
    pub source: String,
    /// Published (ms since the epoch).
    pub created_ms: i64,
    /// Whether this version answers new contacts.
    pub active: bool,
}

impl Store {
    /// Adds or replaces a user.
    pub async fn put_user(&self, u: &User) -> Result<()> {
        exec!(
            self,
            sqlx::query(
                "INSERT INTO users (name, password_hash, role, agent) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (name) DO UPDATE SET password_hash = excluded.password_hash, \
             role = excluded.role, agent = excluded.agent",
            )
            .bind(&u.name)
            .bind(&u.password_hash)
            .bind(u.role.name())
            .bind(&u.agent)
        )?;
        Ok(())
    }

    /// The user called `name`.
    pub async fn user(&self, name: &str) -> Result<Option<User>> {
        let row: Option<(String, String, String, Option<String>)> = fetch!(
            self,
            fetch_optional,
            sqlx::query_as("SELECT name, password_hash, role, agent FROM users WHERE name = $1")
                .bind(name)
        )?;
        Ok(row.map(|(name, password_hash, role, agent)| User {
            name,
            role: Role::parse(&role).unwrap_or(Role::Agent),
            agent,
            password_hash,
        }))
    }

    /// Sets agent `agent`'s SIP phone credentials (`ha1` for `realm`).
    pub async fn put_sip_account(&self, agent: &str, realm: &str, ha1: &str) -> Result<()> {
        exec!(
            self,
            sqlx::query(
                "INSERT INTO sip_accounts (agent, realm, ha1) VALUES ($1, $2, $3) \
             ON CONFLICT (agent) DO UPDATE SET realm = excluded.realm, ha1 = excluded.ha1",
            )
            .bind(agent)
            .bind(realm)
            .bind(ha1)
        )?;
        Ok(())
    }

    /// Agent `agent`'s SIP phone credentials: (realm, HA1).
    pub async fn sip_account(&self, agent: &str) -> Result<Option<(String, String)>> {
        Ok(fetch!(
            self,
            fetch_optional,
            sqlx::query_as("SELECT realm, ha1 FROM sip_accounts WHERE agent = $1").bind(agent)
        )?)
    }

    /// Removes `agent`'s phone credentials; whether there were any.
    pub async fn delete_sip_account(&self, agent: &str) -> Result<bool> {
        let done = exec!(
            self,
            sqlx::query("DELETE FROM sip_accounts WHERE agent = $1").bind(agent)
        )?;
        Ok(done > 0)
    }

    /// Every user, by name.
    pub async fn users(&self) -> Result<Vec<User>> {
        let names: Vec<String> = fetch!(
            self,
            fetch_all,
            sqlx::query_scalar("SELECT name FROM users ORDER BY name")
        )?;
        let mut out = Vec::with_capacity(names.len());
        for n in names {
            out.extend(self.user(&n).await?);
        }
        Ok(out)
    }

    /// Stores a token's hash.
    pub async fn put_token(&self, hash: &str, t: &Token, now_ms: i64) -> Result<()> {
        exec!(self, sqlx::query(
            "INSERT INTO tokens (hash, user_name, kind, created_ms, expires_ms) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(hash)
        .bind(&t.user)
        .bind(&t.kind)
        .bind(now_ms)
        .bind(t.expires_ms))?;
        Ok(())
    }

    /// The token with this hash, if it has not expired.
    pub async fn token(&self, hash: &str, now_ms: i64) -> Result<Option<Token>> {
        let row: Option<(String, String, Option<i64>)> = fetch!(
            self,
            fetch_optional,
            sqlx::query_as(
                "SELECT user_name, kind, expires_ms FROM tokens \
             WHERE hash = $1 AND (expires_ms IS NULL OR expires_ms > $2)",
            )
            .bind(hash)
            .bind(now_ms)
        )?;
        Ok(row.map(|(user, kind, expires_ms)| Token {
            user,
            kind,
            expires_ms,
        }))
    }

    /// Revokes a token.
    pub async fn delete_token(&self, hash: &str) -> Result<()> {
        exec!(
            self,
            sqlx::query("DELETE FROM tokens WHERE hash = $1").bind(hash)
        )?;
        Ok(())
    }

    /// Stores a configuration document (`kind` is e.g. `queue`, `agent`, `number`).
    pub async fn put_config<T: Serialize>(
        &self,
        kind: &str,
        name: &str,
        body: &T,
        now_ms: i64,
    ) -> Result<()> {
        exec!(self, sqlx::query(
            "INSERT INTO config (kind, name, body, updated_ms) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (kind, name) DO UPDATE SET body = excluded.body, updated_ms = excluded.updated_ms",
        )
        .bind(kind)
        .bind(name)
        .bind(serde_json::to_string(body)?)
        .bind(now_ms))?;
        Ok(())
    }

    /// Removes a configuration document; false when there was none.
    pub async fn delete_config(&self, kind: &str, name: &str) -> Result<bool> {
        let done = exec!(
            self,
            sqlx::query("DELETE FROM config WHERE kind = $1 AND name = $2")
                .bind(kind)
                .bind(name)
        )?;
        Ok(done > 0)
    }

    /// Every document of a kind, by name.
    pub async fn configs<T: serde::de::DeserializeOwned>(
        &self,
        kind: &str,
    ) -> Result<Vec<(String, T)>> {
        let rows: Vec<(String, String)> = fetch!(
            self,
            fetch_all,
            sqlx::query_as("SELECT name, body FROM config WHERE kind = $1 ORDER BY name")
                .bind(kind)
        )?;
        rows.into_iter()
            .map(|(name, body)| Ok((name, from_json(&body)?)))
            .collect()
    }

    /// Publishes a new version of a flow and makes it active; returns its number.
    pub async fn publish_flow(&self, flow: &str, source: &str, now_ms: i64) -> Result<i64> {
        let version = {
            let _turn = self.turn().await;
            on_pool!(self, |p| {
                let mut tx = p.begin().await?;
                let version: i64 = sqlx::query_scalar(
                    "INSERT INTO flow_versions (flow, version, source, created_ms) \
                 SELECT $1, COALESCE(MAX(version), 0) + 1, $2, $3 FROM flow_versions \
                 WHERE flow = $1 RETURNING version",
                )
                .bind(flow)
                .bind(source)
                .bind(now_ms)
                .fetch_one(&mut *tx)
                .await?;
                sqlx::query(
                    "INSERT INTO flows (flow, active) VALUES ($1, $2) \
                 ON CONFLICT (flow) DO UPDATE SET active = excluded.active",
                )
                .bind(flow)
                .bind(version)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok::<_, StoreError>(version)
            })?
        };
        self.written().await?;
        Ok(version)
    }

    /// Makes an earlier (or later) version of a flow the active one.
    pub async fn activate_flow(&self, flow: &str, version: i64) -> Result<()> {
        let exists: Option<i64> = fetch!(
            self,
            fetch_optional,
            sqlx::query_scalar(
                "SELECT version FROM flow_versions WHERE flow = $1 AND version = $2"
            )
            .bind(flow)
            .bind(version)
        )?;
        if exists.is_none() {
            return Err(StoreError::NotFound(format!(
                "flow {flow} version {version}"
            )));
        }
        exec!(
            self,
            sqlx::query("UPDATE flows SET active = $1 WHERE flow = $2")
                .bind(version)
                .bind(flow)
        )?;
        Ok(())
    }

    /// The active version of every flow, by id.
    pub async fn active_flows(&self) -> Result<Vec<FlowVersion>> {
        let rows: Vec<(String, i64, String, i64)> = fetch!(
            self,
            fetch_all,
            sqlx::query_as(
                "SELECT v.flow, v.version, v.source, v.created_ms FROM flows f \
             JOIN flow_versions v ON v.flow = f.flow AND v.version = f.active ORDER BY v.flow",
            )
        )?;
        Ok(rows
            .into_iter()
            .map(|(flow, version, source, created_ms)| FlowVersion {
                flow,
                version,
                source,
                created_ms,
                active: true,
            })
            .collect())
    }

    /// Every version of a flow, newest first.
    pub async fn flow_versions(&self, flow: &str) -> Result<Vec<FlowVersion>> {
        let rows: Vec<(String, i64, String, i64, bool)> = fetch!(self, fetch_all, sqlx::query_as(
            "SELECT v.flow, v.version, v.source, v.created_ms, COALESCE(f.active = v.version, FALSE) \
             FROM flow_versions v LEFT JOIN flows f ON f.flow = v.flow \
             WHERE v.flow = $1 ORDER BY v.version DESC",
        )
        .bind(flow))?;
        Ok(rows
            .into_iter()
            .map(|(flow, version, source, created_ms, active)| FlowVersion {
                flow,
                version,
                source,
                created_ms,
                active,
            })
            .collect())
    }
}
