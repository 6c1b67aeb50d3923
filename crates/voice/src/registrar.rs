//! The registrar: agents' phones register with HTTP Digest authentication (RFC 3261
//! §22, RFC 2617 with `qop=auth`), checked against the HA1 the store keeps (never the
//! password). Bindings expire; an agent may have several phones. Sources that fail
//! authentication too often are refused for a while.
//!
//! Nonces are stateless: the issue time and a keyed SHA-256 of it, so any nonce this
//! process issued in the last five minutes is accepted; older ones, and ones this run did
//! not issue (from before a restart), are answered `stale=true` (the phone retries without
//! asking its user).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use md5::Md5;
use sha2::{Digest, Sha256};

/// How long a nonce is good for.
const NONCE_LIFE_SECS: u64 = 300;
/// Shortest and longest registration granted.
pub const MIN_EXPIRES: u32 = 60;
/// See [`MIN_EXPIRES`].
pub const MAX_EXPIRES: u32 = 3600;
/// Failed authentications from one address before it is refused …
const MAX_FAILURES: u32 = 5;
/// … for this long.
const LOCKOUT: Duration = Duration::from_secs(300);

/// One registered phone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// Where to send INVITEs (the phone's Contact URI).
    pub contact: String,
    /// When the registration lapses.
    pub expires: Instant,
}

/// What an Authorization header proved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The right password.
    Valid,
    /// An old nonce, or one this run did not issue: challenge again with `stale=true`.
    Stale,
    /// Wrong password, another realm, or a malformed header.
    Invalid,
}

/// The parameters of a Digest header (`username="a", nc=00000001, …`), names in lower case.
pub fn digest_params(header: &str) -> Option<HashMap<String, String>> {
    let rest = header.trim().strip_prefix("Digest")?.trim_start();
    let mut params = HashMap::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let name: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if name.is_empty() {
            return Some(params);
        }
        let value = if chars.peek() == Some(&'"') {
            chars.next();
            let mut v = String::new();
            loop {
                match chars.next()? {
                    '"' => break,
                    '\\' => v.push(chars.next()?),
                    c => v.push(c),
                }
            }
            v
        } else {
            chars
                .by_ref()
                .take_while(|c| *c != ',')
                .collect::<String>()
                .trim()
                .to_string()
        };
        params.insert(name.trim().to_ascii_lowercase(), value);
    }
}

fn md5_hex(text: &str) -> String {
    Md5::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// HA1 = MD5(user:realm:password) (RFC 2617 §3.2.2.2): what the store keeps.
pub fn ha1(user: &str, realm: &str, password: &str) -> String {
    md5_hex(&format!("{user}:{realm}:{password}"))
}

/// The expected `response` for `params` (RFC 2617 §3.2.2.1: with `qop=auth` or none).
fn expected_response(ha1: &str, method: &str, p: &HashMap<String, String>) -> Option<String> {
    let ha2 = md5_hex(&format!("{method}:{}", p.get("uri")?));
    let nonce = p.get("nonce")?;
    Some(match p.get("qop").map(String::as_str) {
        None => md5_hex(&format!("{ha1}:{nonce}:{ha2}")),
        Some("auth") => md5_hex(&format!(
            "{ha1}:{nonce}:{}:{}:auth:{ha2}",
            p.get("nc")?,
            p.get("cnonce")?
        )),
        Some(_) => return None,
    })
}

/// Registrations and authentication.
pub struct Registrar {
    realm: String,
    key: [u8; 32],
    bindings: Mutex<HashMap<String, Vec<Binding>>>,
    failures: Mutex<HashMap<IpAddr, (u32, Instant)>>,
}

fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Registrar {
    /// A registrar for `realm`, signing nonces with `key`.
    pub fn new(realm: &str, key: [u8; 32]) -> Registrar {
        Registrar {
            realm: realm.to_string(),
            key,
            bindings: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// The realm phones authenticate in.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    fn sign(&self, issued: u64) -> String {
        let mut h = Sha256::new();
        h.update(self.key);
        h.update(issued.to_be_bytes());
        let mac: String = h.finalize()[..12]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("{issued:x}.{mac}")
    }

    /// A fresh nonce issued at `now` (seconds since the epoch).
    pub fn nonce_at(&self, now: u64) -> String {
        self.sign(now)
    }

    /// The value of a `WWW-Authenticate` challenge.
    pub fn challenge(&self, stale: bool) -> String {
        format!(
            "Digest realm=\"{}\", nonce=\"{}\", algorithm=MD5, qop=\"auth\"{}",
            self.realm,
            self.nonce_at(unix_secs()),
            if stale { ", stale=true" } else { "" }
        )
    }

    /// Checks an Authorization header of a `method` request against `ha1`, at `now`
    /// (seconds since the epoch).
    pub fn verify(&self, header: &str, method: &str, ha1: &str, now: u64) -> Verdict {
        let Some(p) = digest_params(header) else {
            return Verdict::Invalid;
        };
        if p.get("realm") != Some(&self.realm)
            || p.get("algorithm")
                .is_some_and(|a| !a.eq_ignore_ascii_case("md5"))
        {
            return Verdict::Invalid;
        }
        let Some(nonce) = p.get("nonce") else {
            return Verdict::Invalid;
        };
        // A nonce this run did not issue (one from before a restart, or made up) proves
        // nothing either way: the phone is challenged again, and no failure is counted.
        let Some(issued) = nonce
            .split_once('.')
            .and_then(|(t, _)| u64::from_str_radix(t, 16).ok())
        else {
            return Verdict::Stale;
        };
        if self.sign(issued) != *nonce || issued > now + 5 {
            return Verdict::Stale;
        }
        if expected_response(ha1, method, &p).as_ref() != p.get("response") {
            return Verdict::Invalid;
        }
        if now - issued.min(now) > NONCE_LIFE_SECS {
            Verdict::Stale
        } else {
            Verdict::Valid
        }
    }

    /// The user an Authorization header names.
    pub fn username(header: &str) -> Option<String> {
        digest_params(header)?.remove("username")
    }

    /// Whether `source` is refused for failing too often.
    pub fn locked_out(&self, source: IpAddr, now: Instant) -> bool {
        let mut failures = self.failures.lock().expect("not poisoned");
        match failures.get(&source) {
            Some((n, since)) if *n >= MAX_FAILURES => {
                if now.duration_since(*since) < LOCKOUT {
                    true
                } else {
                    failures.remove(&source);
                    false
                }
            }
            _ => false,
        }
    }

    /// Counts a failed authentication from `source`.
    pub fn failed(&self, source: IpAddr, now: Instant) {
        let mut failures = self.failures.lock().expect("not poisoned");
        if failures.len() > 10_000 {
            failures.retain(|_, (_, since)| now.duration_since(*since) < LOCKOUT);
        }
        let entry = failures.entry(source).or_insert((0, now));
        if now.duration_since(entry.1) >= LOCKOUT {
            *entry = (0, now);
        }
        entry.0 += 1;
        entry.1 = now;
    }

    /// Forgets the failures of `source` (it authenticated).
    pub fn succeeded(&self, source: IpAddr) {
        self.failures.lock().expect("not poisoned").remove(&source);
    }

    /// Registers `contact` for `user` for `expires` seconds (0 removes it); answers the
    /// bindings now in force.
    pub fn bind(&self, user: &str, contact: &str, expires: u32, now: Instant) -> Vec<Binding> {
        let mut all = self.bindings.lock().expect("not poisoned");
        let list = all.entry(user.to_string()).or_default();
        list.retain(|b| b.expires > now && b.contact != contact);
        if expires > 0 {
            list.push(Binding {
                contact: contact.to_string(),
                expires: now + Duration::from_secs(u64::from(expires)),
            });
        }
        let current = list.clone();
        if list.is_empty() {
            all.remove(user);
        }
        current
    }

    /// Removes every binding of `user`.
    pub fn unbind_all(&self, user: &str) {
        self.bindings.lock().expect("not poisoned").remove(user);
    }

    /// `user`'s phones registered at `now`.
    pub fn contacts(&self, user: &str, now: Instant) -> Vec<String> {
        self.bindings
            .lock()
            .expect("not poisoned")
            .get(user)
            .map(|l| {
                l.iter()
                    .filter(|b| b.expires > now)
                    .map(|b| b.contact.clone())
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 2617 §3.5: Mufasa, "Circle Of Life", realm testrealm@host.com.
    const RFC_HEADER: &str = r#"Digest username="Mufasa",
                 realm="testrealm@host.com",
                 nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
                 uri="/dir/index.html",
                 qop=auth,
                 nc=00000001,
                 cnonce="0a4f113b",
                 response="6629fae49393a05397450978507c4ef1",
                 opaque="5ccc069c403ebaf9f0171e9517f40e41""#;

    #[test]
    fn the_rfc_2617_example_response() {
        let p = digest_params(RFC_HEADER).unwrap();
        assert_eq!(p["username"], "Mufasa");
        assert_eq!(p["nc"], "00000001");
        let ha1 = ha1("Mufasa", "testrealm@host.com", "Circle Of Life");
        assert_eq!(
            expected_response(&ha1, "GET", &p).unwrap(),
            "6629fae49393a05397450978507c4ef1"
        );
    }

    fn answer(r: &Registrar, nonce: &str, password: &str, method: &str) -> String {
        let ha1 = ha1("alice", r.realm(), password);
        let mut p = HashMap::new();
        p.insert("uri".to_string(), "sip:127.0.0.1".to_string());
        p.insert("nonce".to_string(), nonce.to_string());
        p.insert("nc".to_string(), "00000001".to_string());
        p.insert("cnonce".to_string(), "abc".to_string());
        p.insert("qop".to_string(), "auth".to_string());
        let response = expected_response(&ha1, method, &p).unwrap();
        format!(
            "Digest username=\"alice\", realm=\"{}\", nonce=\"{nonce}\", uri=\"sip:127.0.0.1\", \
             response=\"{response}\", algorithm=MD5, qop=auth, nc=00000001, cnonce=\"abc\"",
            r.realm()
        )
    }

    #[test]
    fn right_wrong_stale_and_forged() {
        let r = Registrar::new("switchboard", [7; 32]);
        let ha1 = ha1("alice", "switchboard", "secret");
        let now = 1_800_000_000;
        let nonce = r.nonce_at(now);
        let good = answer(&r, &nonce, "secret", "REGISTER");
        assert_eq!(r.verify(&good, "REGISTER", &ha1, now + 10), Verdict::Valid);
        assert_eq!(r.verify(&good, "INVITE", &ha1, now + 10), Verdict::Invalid);
        let wrong = answer(&r, &nonce, "guess", "REGISTER");
        assert_eq!(r.verify(&wrong, "REGISTER", &ha1, now), Verdict::Invalid);
        assert_eq!(r.verify(&good, "REGISTER", &ha1, now + 301), Verdict::Stale);
        // A nonce signed with another key (before a restart) is not ours: challenge again.
        let other = Registrar::new("switchboard", [8; 32]);
        let forged = answer(&r, &other.nonce_at(now), "secret", "REGISTER");
        assert_eq!(r.verify(&forged, "REGISTER", &ha1, now), Verdict::Stale);
        assert_eq!(
            r.verify("Basic abc", "REGISTER", &ha1, now),
            Verdict::Invalid
        );
        assert_eq!(r.verify("Digest", "REGISTER", &ha1, now), Verdict::Invalid);
        assert_eq!(Registrar::username(&good).as_deref(), Some("alice"));
    }

    #[test]
    fn bindings_expire_and_several_phones_coexist() {
        let r = Registrar::new("switchboard", [1; 32]);
        let t = Instant::now();
        r.bind("alice", "sip:alice@127.0.0.1:5070", 60, t);
        let both = r.bind("alice", "sip:alice@127.0.0.1:5080", 120, t);
        assert_eq!(both.len(), 2);
        assert_eq!(r.contacts("alice", t + Duration::from_secs(90)).len(), 1);
        assert!(r.contacts("alice", t + Duration::from_secs(121)).is_empty());
        r.bind("alice", "sip:alice@127.0.0.1:5080", 0, t);
        assert_eq!(r.contacts("alice", t), vec!["sip:alice@127.0.0.1:5070"]);
    }

    #[test]
    fn repeated_failures_lock_a_source_out_for_a_while() {
        let r = Registrar::new("switchboard", [1; 32]);
        let ip: IpAddr = "127.0.0.9".parse().unwrap();
        let t = Instant::now();
        for _ in 0..MAX_FAILURES {
            assert!(!r.locked_out(ip, t));
            r.failed(ip, t);
        }
        assert!(r.locked_out(ip, t));
        assert!(!r.locked_out(ip, t + LOCKOUT));
    }
}
