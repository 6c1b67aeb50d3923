//! `switchboard.toml`: where the server listens and keeps its data, and how KPIs are
//! computed. Unknown keys are errors; `SWITCHBOARD_HTTP`, `SWITCHBOARD_SIP`,
//! `SWITCHBOARD_DATA`, `SWITCHBOARD_DATABASE` and `SWITCHBOARD_COMPANY` override the file.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::kpi::KpiConfig;

/// The server's configuration.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// HTTP address (API, events, web apps).
    #[serde(default = "default_http")]
    pub http: SocketAddr,
    /// SIP address (voice edge).
    #[serde(default = "default_sip")]
    pub sip: SocketAddr,
    /// Directory for the database and files.
    #[serde(default = "default_data")]
    pub data: PathBuf,
    /// A PostgreSQL database URL (`postgres://user:password@host/db`) instead of the
    /// SQLite file in the data directory: for several servers sharing one database.
    /// Recordings and voicemails stay in the data directory.
    #[serde(default)]
    pub database: Option<String>,
    /// A company file (queues, agents, flows, users…) imported at start: what it defines
    /// is created or updated; nothing else is removed.
    #[serde(default)]
    pub company: Option<PathBuf>,
    /// KPI conventions.
    #[serde(default)]
    pub kpi: KpiConfig,
    /// Seed for the routing engine's random strategies.
    #[serde(default)]
    pub seed: u64,
    /// Integrations that receive notices.
    #[serde(default)]
    pub webhooks: Vec<crate::webhooks::Webhook>,
    /// Phone calls.
    #[serde(default)]
    pub voice: VoiceSettings,
    /// Servers sharing one database.
    #[serde(default)]
    pub cluster: ClusterSettings,
}

/// How a server shares its database with others (`[cluster]`): exactly one of them owns
/// the routing at a time, through a lease in the database (see `lease.rs`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterSettings {
    /// This server's name (default: the host name and the process id).
    pub node: Option<String>,
    /// How long ownership lasts unless renewed, in seconds (renewed every third of it):
    /// how long a standby waits after its owner dies without stopping.
    pub lease_secs: u64,
}

impl Default for ClusterSettings {
    fn default() -> Self {
        ClusterSettings {
            node: None,
            lease_secs: 15,
        }
    }
}

/// How phone calls are handled (`[voice]`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VoiceSettings {
    /// The address written into SDP for media (default: the address SIP listens on; for
    /// 0.0.0.0, the host's first non-loopback IPv4 address).
    pub media_ip: Option<IpAddr>,
    /// Most calls at once; more are refused with 503 Service Unavailable.
    pub max_calls: usize,
    /// Threads that relay plain conversations, without waking the call's task for each
    /// packet (default: one per core; 0: each call's task relays its own).
    pub relay_threads: Option<usize>,
    /// Whether the relay threads hand plain conversations to the kernel media path, where
    /// it can be loaded (default: yes).
    pub kernel_media: bool,
    /// The espeak-ng voice that speaks the flows' `say` prompts.
    pub tts_voice: String,
    /// A speech-to-text service for voicemails: the WAV is POSTed (`audio/wav`) and the
    /// answer's JSON `text` becomes the voicemail's transcript.
    pub transcribe_url: Option<String>,
    /// `host:port` of the SIP trunk or gateway that reaches customers' numbers
    /// (`sip:NUMBER@TRUNK`): with one, callbacks are dialed agent-first.
    pub trunk: Option<String>,
    /// The digest user name for a trunk that challenges Switchboard's INVITEs.
    pub trunk_username: Option<String>,
    /// Its password (better given as `SWITCHBOARD_TRUNK_PASSWORD` than in the file).
    pub trunk_password: Option<String>,
    /// The digest realm agents' phones register in (phones' stored credentials are tied
    /// to it: changing it means setting the SIP passwords again).
    pub realm: String,
}

impl Default for VoiceSettings {
    fn default() -> Self {
        VoiceSettings {
            media_ip: None,
            max_calls: 500,
            relay_threads: None,
            kernel_media: true,
            tts_voice: "en".into(),
            realm: "switchboard".into(),
            transcribe_url: None,
            trunk: None,
            trunk_username: None,
            trunk_password: None,
        }
    }
}

fn default_http() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}
fn default_sip() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 5060))
}
fn default_data() -> PathBuf {
    PathBuf::from("switchboard-data")
}

impl Default for Config {
    fn default() -> Self {
        Config {
            http: default_http(),
            sip: default_sip(),
            data: default_data(),
            database: None,
            company: None,
            kpi: KpiConfig::default(),
            seed: 0,
            webhooks: Vec::new(),
            voice: VoiceSettings::default(),
            cluster: ClusterSettings::default(),
        }
    }
}

impl Config {
    /// Reads a configuration file (relative paths in it are taken from its directory), then
    /// applies the environment.
    pub fn load(path: Option<&Path>) -> Result<Config, String> {
        let mut c = match path {
            None => Config::default(),
            Some(p) => {
                let text =
                    std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
                let mut c: Config =
                    toml::from_str(&text).map_err(|e| format!("{}: {e}", p.display()))?;
                let dir = p.parent().unwrap_or(Path::new("."));
                c.data = dir.join(&c.data);
                c.company = c.company.map(|f| dir.join(f));
                c
            }
        };
        c.apply_env(|k| std::env::var(k).ok())?;
        Ok(c)
    }

    /// Applies `SWITCHBOARD_*` overrides from `env`.
    pub fn apply_env(&mut self, env: impl Fn(&str) -> Option<String>) -> Result<(), String> {
        if let Some(v) = env("SWITCHBOARD_HTTP") {
            self.http = v
                .parse()
                .map_err(|e| format!("SWITCHBOARD_HTTP={v}: {e}"))?;
        }
        if let Some(v) = env("SWITCHBOARD_SIP") {
            self.sip = v.parse().map_err(|e| format!("SWITCHBOARD_SIP={v}: {e}"))?;
        }
        if let Some(v) = env("SWITCHBOARD_DATA") {
            self.data = v.into();
        }
        if let Some(v) = env("SWITCHBOARD_DATABASE") {
            self.database = Some(v);
        }
        if let Some(v) = env("SWITCHBOARD_COMPANY") {
            self.company = Some(v.into());
        }
        if let Some(v) = env("SWITCHBOARD_TRUNK_PASSWORD") {
            self.voice.trunk_password = Some(v);
        }
        Ok(())
    }

    /// The trunk's credentials: a user name and a password, or neither.
    pub fn trunk_auth(&self) -> Result<Option<(String, String)>, String> {
        match (&self.voice.trunk_username, &self.voice.trunk_password) {
            (Some(user), Some(password)) => Ok(Some((user.clone(), password.clone()))),
            (None, None) => Ok(None),
            _ => Err("[voice] trunk_username and trunk_password (or SWITCHBOARD_TRUNK_PASSWORD) go together".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trunk_credentials_come_as_a_pair_and_the_password_from_the_environment() {
        let mut c: Config =
            toml::from_str("[voice]\ntrunk = \"sip.example:5060\"\ntrunk_username = \"acme\"\n")
                .unwrap();
        let err = c.trunk_auth().unwrap_err();
        assert!(err.contains("go together"), "{err}");
        c.apply_env(|k| (k == "SWITCHBOARD_TRUNK_PASSWORD").then(|| "s3cret".to_string()))
            .unwrap();
        assert_eq!(
            c.trunk_auth().unwrap(),
            Some(("acme".to_string(), "s3cret".to_string()))
        );
        assert_eq!(Config::default().trunk_auth().unwrap(), None);
    }
}
