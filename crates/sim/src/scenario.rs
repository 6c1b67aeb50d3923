//! Simulation scenarios: the YAML file format, units, distributions, and validation into a
//! checked [`Model`] the simulator runs.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use rand::Rng;
use rand_distr::{Distribution, Exp, LogNormal};
use serde::Deserialize;
use switchboard_routing::{
    AgentSpec, Capacity, Channel, Escalation, EscalationStep, LanguageId, Membership, QueueId,
    QueueSpec, SkillId, SkillRequirement, Strategy, WrapUp,
};

/// A scenario that could not be read or makes no sense; the message says where and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct ScenarioError(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, ScenarioError> {
    Err(ScenarioError(msg.into()))
}

/// Parses a duration: `250ms`, `20s`, `4m`, `1.5h`, `2d`, compounds such as `1h30m`, or a
/// bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, ScenarioError> {
    let bad = || {
        ScenarioError(format!(
            "`{text}` is not a duration (try `20s`, `4m`, `1h30m`)"
        ))
    };
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    if let Ok(secs) = rest.parse::<f64>() {
        return seconds(secs, text);
    }
    let mut total = 0.0;
    while !rest.is_empty() {
        let split = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let value: f64 = rest[..split].parse().map_err(|_| bad())?;
        rest = &rest[split..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match rest[..unit_len].trim() {
            "ms" => 1e-3,
            "s" => 1.0,
            "m" | "min" => 60.0,
            "h" => 3600.0,
            "d" => 86400.0,
            other => {
                return err(format!(
                    "`{other}` in `{text}` is not a time unit (ms, s, m, h, d)"
                ));
            }
        };
        total += value * scale;
        rest = rest[unit_len..].trim_start();
    }
    seconds(total, text)
}

fn seconds(secs: f64, text: &str) -> Result<Duration, ScenarioError> {
    if !secs.is_finite() || !(0.0..=1e10).contains(&secs) {
        return err(format!("`{text}` is out of range"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Parses an arrival rate, `360/h`, `6/m`, `0.1/s`, into contacts per second.
pub fn parse_rate(text: &str) -> Result<f64, ScenarioError> {
    let Some((num, per)) = text.trim().split_once('/') else {
        return err(format!("`{text}` is not a rate (try `360/h`)"));
    };
    let n: f64 = num
        .trim()
        .parse()
        .map_err(|_| ScenarioError(format!("`{text}`: `{num}` is not a number")))?;
    let per_s = match per.trim() {
        "s" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        "d" => 86400.0,
        other => {
            return err(format!(
                "`{other}` in `{text}` is not a time unit (s, m, h, d)"
            ));
        }
    };
    if !(n.is_finite() && n >= 0.0) {
        return err(format!("`{text}`: a rate cannot be negative"));
    }
    Ok(n / per_s)
}

/// A random duration: handle time, after-call work or patience.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Dist {
    /// Exponential with this mean (seconds).
    Exponential(f64),
    /// Log-normal with this mean and standard deviation (seconds).
    LogNormal {
        /// Mean in seconds.
        mean: f64,
        /// Standard deviation in seconds.
        sd: f64,
    },
    /// Always this long (seconds).
    Fixed(f64),
}

impl Dist {
    /// Parses `exp(240s)`, `lognormal(300s, 120s)` or `fixed(30s)`.
    pub fn parse(text: &str) -> Result<Dist, ScenarioError> {
        let t = text.trim();
        let hint = "try `exp(240s)`, `lognormal(300s, 120s)` or `fixed(30s)`";
        let Some((name, rest)) = t.split_once('(') else {
            return err(format!("`{text}` is not a distribution: {hint}"));
        };
        let Some(args) = rest.strip_suffix(')') else {
            return err(format!("`{text}` lacks a closing `)`: {hint}"));
        };
        let args: Vec<f64> = args
            .split(',')
            .map(|a| parse_duration(a).map(|d| d.as_secs_f64()))
            .collect::<Result<_, _>>()?;
        let dist = match (name.trim(), args.as_slice()) {
            ("exp" | "exponential", [m]) => Dist::Exponential(*m),
            ("lognormal", [m, s]) => Dist::LogNormal { mean: *m, sd: *s },
            ("fixed", [v]) => Dist::Fixed(*v),
            _ => return err(format!("`{text}`: {hint}")),
        };
        if dist.mean() <= 0.0 && !matches!(dist, Dist::Fixed(_)) {
            return err(format!("`{text}`: the mean must be positive"));
        }
        Ok(dist)
    }

    /// The mean in seconds.
    pub fn mean(&self) -> f64 {
        match *self {
            Dist::Exponential(m) | Dist::LogNormal { mean: m, .. } | Dist::Fixed(m) => m,
        }
    }

    /// Draws one value in seconds.
    pub fn sample(&self, rng: &mut impl Rng) -> f64 {
        match *self {
            Dist::Exponential(m) => Exp::new(1.0 / m).map_or(m, |d| d.sample(rng)),
            Dist::LogNormal { mean, sd } => {
                // Parameters of the underlying normal from the mean and sd of the log-normal.
                let sigma2 = (1.0 + (sd / mean).powi(2)).ln();
                let mu = mean.ln() - sigma2 / 2.0;
                LogNormal::new(mu, sigma2.sqrt()).map_or(mean, |d| d.sample(rng))
            }
            Dist::Fixed(v) => v,
        }
    }
}

impl fmt::Display for Dist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dist::Exponential(m) => write!(f, "exp({m}s)"),
            Dist::LogNormal { mean, sd } => write!(f, "lognormal({mean}s, {sd}s)"),
            Dist::Fixed(v) => write!(f, "fixed({v}s)"),
        }
    }
}

/// How abandoned contacts enter the service-level figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SlConvention {
    /// Answered within the threshold ÷ offered (abandons count against). The default.
    Offered,
    /// Answered within the threshold ÷ answered (abandons ignored).
    Answered,
    /// (Answered + abandoned within the threshold) ÷ offered: abandons within the threshold
    /// count for, i.e. 1 − P(wait > threshold).
    AbandonsWithinCountFor,
}

/// The service-level definition in force.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SlPolicy {
    /// The answer-time target ("20" in 80/20).
    pub threshold: Duration,
    /// How abandons count.
    pub convention: SlConvention,
    /// Contacts abandoned within this time are left out of every figure.
    pub short_abandon: Option<Duration>,
}

/// Most agents a scenario may hold (each is a full engine agent).
pub const MAX_AGENTS: u64 = 200_000;
/// Most replications a scenario may ask for.
pub const MAX_REPLICATIONS: u32 = 10_000;

// ----- the file format -----

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    name: String,
    duration: String,
    #[serde(default)]
    warmup: Option<String>,
    #[serde(default)]
    replications: Option<u32>,
    #[serde(default)]
    seed: Option<u64>,
    #[serde(default)]
    service_level: Option<SlFile>,
    queues: Vec<QueueFile>,
    agents: Vec<AgentFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SlFile {
    threshold: String,
    #[serde(default)]
    convention: Option<SlConvention>,
    #[serde(default)]
    short_abandon: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum ArrivalsFile {
    Constant(String),
    Intervals {
        interval: String,
        rates: Vec<String>,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct QueueFile {
    name: String,
    #[serde(default)]
    strategy: Option<Strategy>,
    arrivals: ArrivalsFile,
    handle_time: String,
    #[serde(default)]
    after_call_work: Option<String>,
    #[serde(default)]
    patience: Option<String>,
    #[serde(default)]
    channel: Option<Channel>,
    #[serde(default)]
    skills: BTreeMap<String, u8>,
    #[serde(default)]
    language: Option<String>,
    #[serde(default)]
    priority: i32,
    #[serde(default)]
    weight: Option<u32>,
    #[serde(default)]
    initial_tier: Option<u8>,
    #[serde(default)]
    escalation: Vec<StepFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StepFile {
    after: String,
    #[serde(default)]
    relax_skills: Option<u8>,
    #[serde(default)]
    expand_tier: Option<u8>,
    #[serde(default)]
    overflow: Option<String>,
    #[serde(default)]
    raise_priority: Option<i32>,
    #[serde(default)]
    drop_language: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AgentFile {
    name: String,
    #[serde(default = "one")]
    count: u32,
    #[serde(default)]
    skills: BTreeMap<String, u8>,
    #[serde(default)]
    languages: Vec<String>,
    queues: Vec<MemberFile>,
    #[serde(default)]
    capacity: Option<Capacity>,
    #[serde(default)]
    shifts: Vec<ShiftFile>,
}

fn one() -> u32 {
    1
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum MemberFile {
    Name(String),
    Full {
        queue: String,
        #[serde(default = "tier_one")]
        tier: u8,
        #[serde(default = "one")]
        weight: u32,
    },
}

fn tier_one() -> u8 {
    1
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ShiftFile {
    start: String,
    end: String,
}

// ----- the checked model -----

/// Contacts arriving to one queue: Poisson with a rate per interval (the last rate holds
/// after the list ends).
#[derive(Debug, Clone, PartialEq)]
pub struct Arrivals {
    /// Length of each interval.
    pub interval: Duration,
    /// Contacts per second in each interval.
    pub rates: Vec<f64>,
}

impl Arrivals {
    /// A constant rate.
    pub fn constant(per_s: f64) -> Arrivals {
        Arrivals {
            interval: Duration::from_secs(86_400),
            rates: vec![per_s],
        }
    }

    /// The rate in force at `t` seconds.
    pub fn rate_at(&self, t: f64) -> f64 {
        let i = (t / self.interval.as_secs_f64()).floor() as usize;
        self.rates[i.min(self.rates.len() - 1)]
    }

    /// The end of the interval containing `t` (infinite in the last interval).
    pub fn interval_end(&self, t: f64) -> f64 {
        let len = self.interval.as_secs_f64();
        let i = (t / len).floor() as usize;
        if i + 1 >= self.rates.len() {
            f64::INFINITY
        } else {
            (i + 1) as f64 * len
        }
    }
}

/// One queue of the model.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueModel {
    /// Its name.
    pub name: String,
    /// The engine configuration.
    pub spec: QueueSpec,
    /// Arrival process.
    pub arrivals: Arrivals,
    /// Talk (handle) time.
    pub handle: Dist,
    /// After-call work, if any.
    pub after_call_work: Option<Dist>,
    /// Caller patience; `None` means callers never abandon.
    pub patience: Option<Dist>,
    /// The channel contacts arrive on.
    pub channel: Channel,
    /// Skills its contacts require.
    pub skills: Vec<SkillRequirement>,
    /// Language its contacts require.
    pub language: Option<LanguageId>,
    /// Priority of its contacts.
    pub priority: i32,
}

/// One agent of the model.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentModel {
    /// Its name (group name and number).
    pub name: String,
    /// The group it came from.
    pub group: String,
    /// The engine profile.
    pub spec: AgentSpec,
    /// Logged-in windows, seconds from the start; empty means always.
    pub shifts: Vec<(f64, f64)>,
}

/// A checked scenario, ready to simulate.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    /// Its name.
    pub name: String,
    /// Measured time per replication, after the warm-up.
    pub duration: Duration,
    /// Time simulated before measuring starts.
    pub warmup: Duration,
    /// Independent replications.
    pub replications: u32,
    /// Seed of the first replication.
    pub seed: u64,
    /// Service-level definition.
    pub sl: SlPolicy,
    /// Queues, numbered by position.
    pub queues: Vec<QueueModel>,
    /// Agents, numbered by position.
    pub agents: Vec<AgentModel>,
}

/// Reads a scenario file's text. Errors name the line and column when the YAML is at fault.
pub fn parse_scenario(name: &str, text: &str) -> Result<Model, ScenarioError> {
    let file: File = serde_norway::from_str(text).map_err(|e| match e.location() {
        Some(l) => ScenarioError(format!("{name}:{}:{}: {e}", l.line(), l.column())),
        None => ScenarioError(format!("{name}: {e}")),
    })?;
    check(file).map_err(|e| ScenarioError(format!("{name}: {}", e.0)))
}

fn check(file: File) -> Result<Model, ScenarioError> {
    let mut skills: BTreeMap<String, SkillId> = BTreeMap::new();
    let mut languages: BTreeMap<String, LanguageId> = BTreeMap::new();
    let mut skill = |name: &str| {
        let n = skills.len() as u32;
        *skills.entry(name.to_string()).or_insert(SkillId(n))
    };
    let mut language = |name: &str| {
        let n = languages.len() as u16;
        *languages.entry(name.to_string()).or_insert(LanguageId(n))
    };
    if file.queues.is_empty() {
        return err("a scenario needs at least one queue");
    }
    let queue_ids: BTreeMap<&str, QueueId> = file
        .queues
        .iter()
        .enumerate()
        .map(|(i, q)| (q.name.as_str(), QueueId(i as u32)))
        .collect();
    if queue_ids.len() != file.queues.len() {
        return err("queue names must be unique");
    }
    let queue_id = |name: &str, ctx: &str| {
        queue_ids
            .get(name)
            .copied()
            .ok_or_else(|| ScenarioError(format!("{ctx}: no queue named `{name}`")))
    };
    let mut queues = Vec::new();
    for q in &file.queues {
        let ctx = format!("queue `{}`", q.name);
        let arrivals = match &q.arrivals {
            ArrivalsFile::Constant(r) => Arrivals::constant(parse_rate(r)?),
            ArrivalsFile::Intervals { interval, rates } => {
                let interval = parse_duration(interval)?;
                if interval.is_zero() || rates.is_empty() {
                    return err(format!(
                        "{ctx}: arrivals need an interval and at least one rate"
                    ));
                }
                Arrivals {
                    interval,
                    rates: rates
                        .iter()
                        .map(|r| parse_rate(r))
                        .collect::<Result<_, _>>()?,
                }
            }
        };
        let handle =
            Dist::parse(&q.handle_time).map_err(|e| ScenarioError(format!("{ctx}: {e}")))?;
        let after_call_work = q.after_call_work.as_deref().map(Dist::parse).transpose()?;
        let patience = match q.patience.as_deref() {
            None | Some("none") => None,
            Some(p) => Some(Dist::parse(p)?),
        };
        let mut escalation = Vec::new();
        for step in &q.escalation {
            let mut actions = Vec::new();
            if let Some(by) = step.relax_skills {
                actions.push(Escalation::RelaxSkills(by));
            }
            if let Some(t) = step.expand_tier {
                actions.push(Escalation::ExpandTier(t));
            }
            if let Some(o) = &step.overflow {
                actions.push(Escalation::Overflow(queue_id(o, &ctx)?));
            }
            if let Some(p) = step.raise_priority {
                actions.push(Escalation::RaisePriority(p));
            }
            if step.drop_language {
                actions.push(Escalation::DropLanguage);
            }
            escalation.push(EscalationStep {
                after: parse_duration(&step.after)?,
                actions,
            });
        }
        let aht = handle.mean() + after_call_work.map_or(0.0, |d| d.mean());
        queues.push(QueueModel {
            name: q.name.clone(),
            spec: QueueSpec {
                strategy: q.strategy.unwrap_or(Strategy::LongestIdle),
                // Simulated agents answer at once; after-call work is driven by the simulator.
                wrap_up: if after_call_work.is_some() {
                    WrapUp::Manual
                } else {
                    WrapUp::None
                },
                weight: q.weight.unwrap_or(1),
                initial_tier: q.initial_tier.unwrap_or(u8::MAX),
                escalation,
                aht_hint: Duration::from_secs_f64(aht),
                ..QueueSpec::default()
            },
            arrivals,
            handle,
            after_call_work,
            patience,
            channel: q.channel.unwrap_or(Channel::Voice),
            skills: q
                .skills
                .iter()
                .map(|(name, &min)| SkillRequirement {
                    skill: skill(name),
                    min,
                })
                .collect(),
            language: q.language.as_deref().map(&mut language),
            priority: q.priority,
        });
    }
    let total: u64 = file.agents.iter().map(|a| u64::from(a.count)).sum();
    if total > MAX_AGENTS {
        return err(format!(
            "{total} agents: a scenario holds at most {MAX_AGENTS}"
        ));
    }
    let mut agents = Vec::new();
    for a in &file.agents {
        let ctx = format!("agent group `{}`", a.name);
        let mut memberships = Vec::new();
        for (order, m) in a.queues.iter().enumerate() {
            let (name, tier, weight) = match m {
                MemberFile::Name(n) => (n.as_str(), 1, 1),
                MemberFile::Full {
                    queue,
                    tier,
                    weight,
                } => (queue.as_str(), *tier, *weight),
            };
            if tier == 0 {
                return err(format!("{ctx}: tiers start at 1"));
            }
            memberships.push(Membership {
                queue: queue_id(name, &ctx)?,
                tier,
                order: order as u32,
                weight,
            });
        }
        let mut shifts = Vec::new();
        for s in &a.shifts {
            let (start, end) = (
                parse_duration(&s.start)?.as_secs_f64(),
                parse_duration(&s.end)?.as_secs_f64(),
            );
            if end <= start {
                return err(format!("{ctx}: a shift must end after it starts"));
            }
            shifts.push((start, end));
        }
        let spec = AgentSpec {
            skills: a.skills.iter().map(|(n, &p)| (skill(n), p)).collect(),
            languages: a.languages.iter().map(|l| language(l)).collect(),
            capacity: a.capacity.unwrap_or_default(),
            queues: memberships,
            auto_away_after_missed: None,
        };
        for i in 1..=a.count {
            agents.push(AgentModel {
                name: if a.count == 1 {
                    a.name.clone()
                } else {
                    format!("{}-{i}", a.name)
                },
                group: a.name.clone(),
                spec: spec.clone(),
                shifts: shifts.clone(),
            });
        }
    }
    if agents.is_empty() {
        return err("a scenario needs at least one agent");
    }
    let sl = match file.service_level {
        None => SlPolicy {
            threshold: Duration::from_secs(20),
            convention: SlConvention::Offered,
            short_abandon: None,
        },
        Some(s) => SlPolicy {
            threshold: parse_duration(&s.threshold)?,
            convention: s.convention.unwrap_or(SlConvention::Offered),
            short_abandon: s.short_abandon.as_deref().map(parse_duration).transpose()?,
        },
    };
    let duration = parse_duration(&file.duration)?;
    if duration.is_zero() {
        return err("duration must be positive");
    }
    let replications = file.replications.unwrap_or(10);
    if !(1..=MAX_REPLICATIONS).contains(&replications) {
        return err(format!(
            "replications must be between 1 and {MAX_REPLICATIONS}"
        ));
    }
    Ok(Model {
        name: file.name,
        duration,
        warmup: file
            .warmup
            .as_deref()
            .map(parse_duration)
            .transpose()?
            .unwrap_or(Duration::from_secs(1800)),
        replications,
        seed: file.seed.unwrap_or(1),
        sl,
        queues,
        agents,
    })
}

/// A single M/M/c(+M) queue with `agents` identical agents, for quick what-if checks.
pub struct SingleQueue {
    /// Contacts per second.
    pub arrivals_per_s: f64,
    /// Handle-time distribution.
    pub handle: Dist,
    /// Agents.
    pub agents: u32,
    /// Caller patience, if callers abandon.
    pub patience: Option<Dist>,
    /// Service-level definition.
    pub sl: SlPolicy,
    /// Measured contacts per replication (sets the measured duration).
    pub calls: u64,
    /// Replications.
    pub replications: u32,
    /// Seed.
    pub seed: u64,
    /// Warm-up; `None` picks ten relaxation times (at least ten handle times).
    pub warmup: Option<Duration>,
}

impl SingleQueue {
    /// The equivalent model.
    pub fn model(&self) -> Model {
        let aht = self.handle.mean();
        let warmup = self.warmup.unwrap_or_else(|| {
            // Relaxation time of M/M/c: 1 / (√(cμ) − √λ)²; start measuring after ten.
            let (c, mu, lambda) = (f64::from(self.agents), 1.0 / aht, self.arrivals_per_s);
            let gap = ((c * mu).sqrt() - lambda.sqrt()).max(1e-9);
            let tau = 1.0 / (gap * gap);
            Duration::from_secs_f64((10.0 * tau).clamp(10.0 * aht, 1e7))
        });
        let duration = Duration::from_secs_f64(self.calls as f64 / self.arrivals_per_s.max(1e-12));
        let queue = QueueModel {
            name: "queue".into(),
            spec: QueueSpec {
                aht_hint: Duration::from_secs_f64(aht),
                ..QueueSpec::default()
            },
            arrivals: Arrivals::constant(self.arrivals_per_s),
            handle: self.handle,
            after_call_work: None,
            patience: self.patience,
            channel: Channel::Voice,
            skills: Vec::new(),
            language: None,
            priority: 0,
        };
        let agent = AgentModel {
            name: String::new(),
            group: "agent".into(),
            spec: AgentSpec {
                queues: vec![Membership {
                    queue: QueueId(0),
                    tier: 1,
                    order: 0,
                    weight: 1,
                }],
                ..AgentSpec::default()
            },
            shifts: Vec::new(),
        };
        Model {
            name: "single queue".into(),
            duration,
            warmup,
            replications: self.replications,
            seed: self.seed,
            sl: self.sl,
            queues: vec![queue],
            agents: (1..=self.agents)
                .map(|i| AgentModel {
                    name: format!("agent-{i}"),
                    ..agent.clone()
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_parse() {
        assert_eq!(parse_duration("20s"), Ok(Duration::from_secs(20)));
        assert_eq!(parse_duration("1.5h"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert!(parse_duration("-5s").is_err());
        assert!(parse_duration("5s5").is_err());
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("").is_err());
        assert_eq!(parse_rate("360/h"), Ok(0.1));
        assert!(parse_rate("360").is_err());
        assert!(parse_rate("-1/h").is_err());
        assert_eq!(Dist::parse("exp(240s)"), Ok(Dist::Exponential(240.0)));
        assert_eq!(
            Dist::parse("lognormal(5m, 2m)"),
            Ok(Dist::LogNormal {
                mean: 300.0,
                sd: 120.0
            })
        );
        assert!(Dist::parse("gamma(2)").is_err());
        assert!(Dist::parse("exp(0s)").is_err());
    }

    #[test]
    fn lognormal_has_the_mean_and_sd_asked_for() {
        use rand::SeedableRng;
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(3);
        let d = Dist::LogNormal {
            mean: 300.0,
            sd: 120.0,
        };
        let xs: Vec<f64> = (0..200_000).map(|_| d.sample(&mut rng)).collect();
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        let sd = (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / xs.len() as f64).sqrt();
        assert!((mean - 300.0).abs() < 2.0, "{mean}");
        assert!((sd - 120.0).abs() < 2.0, "{sd}");
    }

    #[test]
    fn bad_scenarios_say_where() {
        let e = parse_scenario(
            "x.yaml",
            "name: a\nduration: 1h\nqueues: []\nagents: []\nbogus: 1\n",
        )
        .unwrap_err();
        assert!(e.0.starts_with("x.yaml:"), "{e}");
        assert!(e.0.contains("bogus"), "{e}");
        let e = parse_scenario(
            "x.yaml",
            "name: a\nduration: 1h\nqueues:\n  - {name: q, arrivals: 10/h, handle_time: exp(3m)}\nagents:\n  - {name: a, queues: [nope]}\n",
        )
        .unwrap_err();
        assert!(e.0.contains("no queue named `nope`"), "{e}");
        let e = parse_scenario(
            "x.yaml",
            "name: a\nduration: 1h\nqueues:\n  - {name: q, arrivals: 10/h, handle_time: exp(3m)}\nagents:\n  - {name: a, count: 4000000000, queues: [q]}\n",
        )
        .unwrap_err();
        assert!(e.0.contains("at most 200000"), "{e}");
    }
}
