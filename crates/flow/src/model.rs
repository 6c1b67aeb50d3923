//! The flow file format as written: YAML mapped onto these structs, every value that a
//! diagnostic may point at kept with its position.

use std::collections::HashMap;

use marked_yaml::Spanned;
use serde::Deserialize;

/// A text, an expression, a node name or a duration, with where it was written.
pub type Text = Spanned<String>;

/// A flow file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowFile {
    /// Stable identifier, used by numbers → flow mappings and by `subflow`.
    pub id: Text,
    /// Version number, increasing with each published change.
    pub version: Spanned<u32>,
    /// What the flow is for.
    #[serde(default)]
    pub description: Option<String>,
    /// The node a call starts at.
    pub start: Text,
    /// Flow variables and their types (`string`, `int`, `bool`, `double`).
    #[serde(default)]
    pub variables: HashMap<Text, Text>,
    /// Business-hours calendars defined in this file, by name.
    #[serde(default)]
    pub calendars: HashMap<Text, Spanned<CalendarFile>>,
    /// Files of shared calendars (relative to this file), each with a `calendars:` map.
    #[serde(default)]
    pub calendar_files: Vec<Text>,
    /// A key that reaches an agent from any menu ("0 for an agent at any time").
    #[serde(default)]
    pub agent_escape: Option<EscapeFile>,
    /// HTTP JSON data sources for `lookup` nodes, by name.
    #[serde(default)]
    pub sources: HashMap<Text, SourceFile>,
    /// The nodes, by name.
    pub nodes: HashMap<Text, Spanned<NodeFile>>,
}

/// A file holding only shared calendars.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarsFile {
    /// The calendars, by name.
    pub calendars: HashMap<Text, Spanned<CalendarFile>>,
}

/// Opening hours per weekday in a time zone, with holidays and special days.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarFile {
    /// IANA time zone, e.g. `Europe/London`.
    pub timezone: Text,
    /// Days (`mon-fri`, `sat`, `sun,mon`) → hours (`08:00-18:00`, `08:00-12:00, 13:00-17:00`,
    /// or `closed`).
    pub hours: HashMap<Text, Text>,
    /// Dates closed (or open only for the given hours).
    #[serde(default)]
    pub holidays: Vec<HolidayFile>,
}

/// A holiday or special day.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HolidayFile {
    /// The date, `YYYY-MM-DD`.
    pub date: Text,
    /// Its name, for transcripts and analytics.
    #[serde(default)]
    pub name: Option<Text>,
    /// Special opening hours that day (closed all day if absent).
    #[serde(default)]
    pub hours: Option<Text>,
}

/// One node: exactly one action, and the names of the nodes that follow.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeFile {
    /// Speak a text (rendered by text-to-speech); `{expr}` interpolates.
    #[serde(default)]
    pub say: Option<Text>,
    /// Play an audio file.
    #[serde(default)]
    pub play: Option<Text>,
    /// Offer DTMF options.
    #[serde(default)]
    pub menu: Option<MenuFile>,
    /// Collect digits into a variable.
    #[serde(default)]
    pub collect: Option<CollectFile>,
    /// Go to the first arm whose condition holds.
    #[serde(default)]
    pub branch: Option<Vec<ArmFile>>,
    /// Assign variables and contact attributes from expressions.
    #[serde(default)]
    pub set: Option<HashMap<Text, Text>>,
    /// Go one way when open, another when closed or on a holiday.
    #[serde(default)]
    pub hours: Option<HoursFile>,
    /// Route by the country of the caller's number.
    #[serde(default)]
    pub geo: Option<GeoFile>,
    /// Fetch data (customer store, webhook) into a variable.
    #[serde(default)]
    pub lookup: Option<LookupFile>,
    /// Hand the contact to the routing engine.
    #[serde(default)]
    pub enqueue: Option<EnqueueFile>,
    /// Transfer the call to a number or extension.
    #[serde(default)]
    pub transfer: Option<TransferFile>,
    /// Record a voicemail for a mailbox or queue.
    #[serde(default)]
    pub voicemail: Option<VoicemailFile>,
    /// Register a callback request.
    #[serde(default)]
    pub callback: Option<CallbackFile>,
    /// Ask post-contact satisfaction questions answered by DTMF.
    #[serde(default)]
    pub survey: Option<SurveyFile>,
    /// Run another flow, then come back to `next` when it returns.
    #[serde(default)]
    pub subflow: Option<SubflowFile>,
    /// Go back to the flow that called this one as a subflow.
    #[serde(default, rename = "return")]
    pub return_: Option<EmptyFile>,
    /// End the call.
    #[serde(default)]
    pub hangup: Option<HangupFile>,
    /// For `say` and `play`: a key pressed during the prompt skips it.
    #[serde(default)]
    pub barge_in: Option<bool>,
    /// The node that follows (say, play, collect, set, voicemail, callback).
    #[serde(default)]
    pub next: Option<Text>,
    /// Where to go when the action fails (collect retries exhausted, menu failures).
    #[serde(default)]
    pub on_failure: Option<Text>,
}

/// A DTMF menu.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MenuFile {
    /// What the caller hears; options shown are listed by the flow author in it.
    pub prompt: Text,
    /// The options.
    pub options: Vec<Spanned<OptionFile>>,
    /// How long to wait for a key after the prompt.
    #[serde(default)]
    pub timeout: Option<Text>,
    /// How many times the menu is repeated after an invalid key or no key.
    #[serde(default)]
    pub retries: Option<u32>,
    /// Said after an invalid key.
    #[serde(default)]
    pub invalid: Option<Text>,
    /// Said when no key was pressed.
    #[serde(default)]
    pub no_input: Option<Text>,
}

/// One menu option.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptionFile {
    /// The DTMF key: 0–9, `*` or `#`.
    pub key: Text,
    /// A short label for transcripts, chat buttons and analytics.
    pub label: Text,
    /// Where the option leads.
    pub next: Text,
    /// The option exists only when this condition holds (personalised menus).
    #[serde(default)]
    pub when: Option<Text>,
}

/// Digit collection.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectFile {
    /// What the caller hears.
    pub prompt: Text,
    /// Variable that receives the digits (a string).
    pub into: Text,
    /// Fewest digits accepted.
    #[serde(default)]
    pub min: Option<u32>,
    /// Most digits accepted (collection stops there).
    #[serde(default)]
    pub max: Option<u32>,
    /// Key that ends the input early (usually `#`).
    #[serde(default)]
    pub terminator: Option<Text>,
    /// How long to wait for the input.
    #[serde(default)]
    pub timeout: Option<Text>,
    /// Further attempts after invalid input.
    #[serde(default)]
    pub retries: Option<u32>,
    /// A condition on `input` (the digits) that must hold, e.g. `size(input) == 8`.
    #[serde(default)]
    pub valid: Option<Text>,
    /// Said when the input is rejected.
    #[serde(default)]
    pub invalid: Option<Text>,
}

/// One arm of a branch: `if` with `next`, or a final `else`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArmFile {
    /// The condition.
    #[serde(default, rename = "if")]
    pub condition: Option<Text>,
    /// Where the arm leads when its condition holds.
    #[serde(default)]
    pub next: Option<Text>,
    /// Where to go when no condition holds.
    #[serde(default, rename = "else")]
    pub otherwise: Option<Text>,
}

/// Time-of-day and holiday routing.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoursFile {
    /// Calendar name.
    pub calendar: Text,
    /// Where to go while open.
    pub open: Text,
    /// Where to go while closed.
    pub closed: Text,
    /// Where to go on a holiday (default: `closed`).
    #[serde(default)]
    pub holiday: Option<Text>,
}

/// Geographic routing on the caller's country (from the number's country code).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeoFile {
    /// Routes, first match wins.
    pub routes: Vec<GeoRouteFile>,
    /// Where everyone else goes.
    pub otherwise: Text,
}

/// One geographic route.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeoRouteFile {
    /// ISO 3166 country codes, e.g. `[FR, BE]`.
    pub countries: Vec<Text>,
    /// Where callers from them go.
    pub next: Text,
}

/// A data lookup: the edge answers it from the customer store or an HTTP JSON webhook.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LookupFile {
    /// `customers` (the built-in store) or a name under the flow's `sources:`.
    pub source: Text,
    /// The key to look up: an expression giving a string (e.g. `caller.number`).
    pub key: Text,
    /// Variable (a map) that receives the record.
    pub into: Text,
    /// How long to wait for the answer.
    #[serde(default)]
    pub timeout: Option<Text>,
}

/// An HTTP JSON data source for lookups.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceFile {
    /// URL; `{key}` is replaced by the looked-up key.
    pub url: Text,
}

/// Queueing the contact for an agent.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnqueueFile {
    /// Queue name.
    pub queue: Text,
    /// Required skills: name → minimum proficiency.
    #[serde(default)]
    pub skills: HashMap<Text, u8>,
    /// Priority: a number or an expression giving an int.
    #[serde(default)]
    pub priority: Option<Text>,
    /// Required language: a name or an expression giving a string.
    #[serde(default)]
    pub language: Option<Text>,
    /// Preferred agent: an expression giving an agent name (sticky / account owner).
    #[serde(default)]
    pub preferred_agent: Option<Text>,
    /// How long to wait for the preferred agent.
    #[serde(default)]
    pub preferred_for: Option<Text>,
    /// Music on hold (an audio file; the edge's default when absent).
    #[serde(default)]
    pub music: Option<Text>,
    /// How often to announce the position and expected wait (never when absent).
    #[serde(default)]
    pub announce_every: Option<Text>,
    /// The announcement; may use `queue.position` and `queue.wait_minutes`.
    #[serde(default)]
    pub announcement: Option<Text>,
    /// A callback offer that keeps the caller's place in line.
    #[serde(default)]
    pub callback: Option<QueueCallbackFile>,
    /// A key that leaves the queue for another node (voicemail, a menu).
    #[serde(default)]
    pub leave: Option<LeaveFile>,
    /// Longest wait before the caller is taken out of the queue…
    #[serde(default)]
    pub max_wait: Option<Text>,
    /// …and sent here.
    #[serde(default)]
    pub on_max_wait: Option<Text>,
}

/// A callback offer while waiting.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueCallbackFile {
    /// The key that accepts it.
    pub key: Text,
    /// Offer it once the caller has waited this long.
    #[serde(default)]
    pub after: Option<Text>,
    /// Offer it as soon as the expected wait exceeds this.
    #[serde(default)]
    pub when_wait_over: Option<Text>,
    /// The offer.
    #[serde(default)]
    pub prompt: Option<Text>,
    /// Said when accepted, before hanging up.
    #[serde(default)]
    pub confirm: Option<Text>,
}

/// A key to leave the queue.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeaveFile {
    /// The key.
    pub key: Text,
    /// Where it leads.
    pub next: Text,
}

/// A transfer out of the flow.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferFile {
    /// Number or extension: text, with `{expr}` interpolation.
    pub to: Text,
}

/// A voicemail.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoicemailFile {
    /// Mailbox or queue that receives it.
    pub mailbox: Text,
    /// Greeting before the beep.
    #[serde(default)]
    pub greeting: Option<Text>,
    /// Ask for a transcription.
    #[serde(default)]
    pub transcribe: bool,
}

/// The flow-wide agent escape.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscapeFile {
    /// The key (usually `0`).
    pub key: Text,
    /// Where it leads (usually an enqueue node).
    pub next: Text,
}

/// A call into another flow.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubflowFile {
    /// The other flow's `id`.
    pub flow: Text,
}

/// An action without settings (`return: {}`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmptyFile {}

/// A DTMF survey.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SurveyFile {
    /// The questions, asked in order.
    pub questions: Vec<QuestionFile>,
    /// Said at the end.
    #[serde(default)]
    pub thanks: Option<Text>,
}

/// One survey question.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuestionFile {
    /// Identifier in reports (`csat`, `resolved`).
    pub id: Text,
    /// What the caller hears.
    pub prompt: Text,
    /// Answer keys, e.g. `1-5` (default) or `1-2`.
    #[serde(default)]
    pub scale: Option<Text>,
}

/// A callback request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallbackFile {
    /// Queue that will call back.
    pub queue: Text,
    /// Number to call: an expression (default `caller.number`).
    #[serde(default)]
    pub number: Option<Text>,
    /// Said to confirm.
    #[serde(default)]
    pub confirm: Option<Text>,
}

/// Ending the call.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HangupFile {
    /// Said before hanging up.
    #[serde(default)]
    pub say: Option<Text>,
    /// Outcome recorded for analytics (e.g. `self-service`).
    #[serde(default)]
    pub reason: Option<Text>,
}
