//! Who is calling: password login (Argon2) for people, bearer tokens for everyone, roles,
//! and a limit on failed logins.
//!
//! Tokens are 256 random bits, shown once; the store keeps only their SHA-256.
//!
//! An Argon2 hash takes tens of milliseconds of CPU and 19 MiB of memory. Hashing and
//! checking passwords run on tokio's blocking threads, a few at a time (see
//! [`off_runtime`]): on a runtime worker they would stall the calls' signalling and
//! media for as long, and a flood of logins could not hold more memory than those few.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use std::thread::available_parallelism;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::TryRngCore;
use sha2::{Digest, Sha256};
use switchboard_store::{Role, Store, Token, User};
use tokio::sync::Semaphore;

/// Failed logins allowed per name within [`LOCKOUT_MS`].
pub const MAX_FAILURES: u32 = 5;
/// The window for counting failed logins, and how long a locked name stays locked.
pub const LOCKOUT_MS: i64 = 5 * 60 * 1000;
/// How long a session token from a password login lives.
pub const SESSION_MS: i64 = 12 * 3600 * 1000;

/// The signed-in caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// User name.
    pub user: String,
    /// Role.
    pub role: Role,
    /// The agent they work as.
    pub agent: Option<String>,
}

impl Caller {
    /// Whether the caller is at least a supervisor.
    pub fn supervises(&self) -> bool {
        self.role >= Role::Supervisor
    }

    /// Whether the caller may act as agent `login` (themselves, or any agent for a
    /// supervisor).
    pub fn may_act_as(&self, login: &str) -> bool {
        self.supervises() || self.agent.as_deref() == Some(login)
    }
}

/// Why a login failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginError {
    /// Wrong name or password.
    Invalid,
    /// Too many failures: try again after this many seconds.
    Locked(u64),
}

/// Hashes a password with Argon2id and a random salt (PHC string), off the runtime
/// (`None`: the runtime is shutting down).
pub async fn hash_password(password: String) -> Option<String> {
    off_runtime(move || hash_now(&password)).await
}

/// Whether `password` matches the PHC string `hash` (Argon2), checked off the runtime.
/// Without a hash (an unknown name) it is checked against a real one all the same, so
/// that timing tells nothing.
async fn verify_password(hash: Option<String>, password: String) -> bool {
    off_runtime(move || {
        let hash = hash.as_deref().unwrap_or(&DUMMY_HASH);
        PasswordHash::new(hash).is_ok_and(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
    })
    .await
    .unwrap_or(false)
}

/// Runs `work` (Argon2) on a blocking thread, at most one per core at once (`None`: the
/// runtime is shutting down).
async fn off_runtime<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    static HASHERS: LazyLock<Semaphore> =
        LazyLock::new(|| Semaphore::new(available_parallelism().map_or(1, std::num::NonZero::get)));
    // The semaphore is never closed, so a permit always comes.
    let _permit = HASHERS.acquire().await;
    match tokio::task::spawn_blocking(work).await {
        Ok(done) => Some(done),
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(_) => None,
    }
}

/// [`hash_password`], on the thread that calls it.
fn hash_now(password: &str) -> String {
    let mut bytes = [0u8; 16];
    fill(&mut bytes);
    let salt = SaltString::encode_b64(&bytes).expect("16 bytes make a valid salt");
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .expect("Argon2 with default parameters hashes any password")
}

fn fill(bytes: &mut [u8]) {
    rand::rngs::OsRng
        .try_fill_bytes(bytes)
        .expect("the operating system's random source works");
}

/// A new random token (hex).
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    fill(&mut bytes);
    hex(&bytes)
}

/// What the store keeps of a token.
pub fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Password logins with a per-name failure limit.
#[derive(Debug, Default)]
pub struct Logins {
    failures: Mutex<HashMap<String, (u32, i64)>>,
}

impl Logins {
    /// Checks a password and issues a session token.
    pub async fn login(
        &self,
        store: &Store,
        name: &str,
        password: &str,
        now_ms: i64,
    ) -> Result<(String, User), LoginError> {
        if let Some(wait) = self.locked(name, now_ms) {
            return Err(LoginError::Locked(wait));
        }
        let user = store.user(name).await.ok().flatten();
        let hash = user.as_ref().map(|u| u.password_hash.clone());
        let ok = verify_password(hash, password.to_string()).await;
        match user {
            Some(user) if ok => {
                self.failures.lock().expect("not poisoned").remove(name);
                let token = new_token();
                let t = Token {
                    user: user.name.clone(),
                    kind: "session".into(),
                    expires_ms: Some(now_ms + SESSION_MS),
                };
                store
                    .put_token(&token_hash(&token), &t, now_ms)
                    .await
                    .map_err(|_| LoginError::Invalid)?;
                Ok((token, user))
            }
            _ => {
                let mut f = self.failures.lock().expect("not poisoned");
                // Bounded memory whatever names are tried: forget failures past the window.
                if f.len() >= 10_000 {
                    f.retain(|_, (_, since)| now_ms - *since <= LOCKOUT_MS);
                }
                let entry = f.entry(name.to_string()).or_insert((0, now_ms));
                if now_ms - entry.1 > LOCKOUT_MS {
                    *entry = (0, now_ms);
                }
                entry.0 += 1;
                Err(LoginError::Invalid)
            }
        }
    }

    fn locked(&self, name: &str, now_ms: i64) -> Option<u64> {
        let f = self.failures.lock().expect("not poisoned");
        let &(count, since) = f.get(name)?;
        let left = since + LOCKOUT_MS - now_ms;
        (count >= MAX_FAILURES && left > 0).then(|| u64::try_from(left / 1000 + 1).unwrap_or(1))
    }
}

/// An Argon2 hash of a random password, checked when the name is unknown.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| hash_now(&new_token()));

/// The caller a bearer token signs in.
pub async fn caller(store: &Store, token: &str, now_ms: i64) -> Option<Caller> {
    let t = store.token(&token_hash(token), now_ms).await.ok()??;
    let user = store.user(&t.user).await.ok()??;
    Some(Caller {
        user: user.name,
        role: user.role,
        agent: user.agent,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn passwords_are_hashed_and_checked_on_a_thread_other_than_the_runtime_s() {
        let runtime = std::thread::current().id();
        let elsewhere = off_runtime(|| std::thread::current().id()).await;
        assert!(elsewhere.is_some_and(|t| t != runtime));

        let hash = hash_password("correct horse".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify_password(Some(hash.clone()), "correct horse".into()).await);
        assert!(!verify_password(Some(hash), "correct horsE".into()).await);
        assert!(!verify_password(Some("not a hash".into()), "x".into()).await);
        // An unknown name is checked against a real hash, and fails.
        assert!(!verify_password(None, "correct horse".into()).await);
    }
}
