//! In-band DTMF detection: the Goertzel algorithm on the eight DTMF frequencies, in blocks
//! of 102 samples of 8 kHz audio, with the checks that keep speech and music from being
//! taken for key presses.
//!
//! Each block (12.75 ms) yields "key k" or "no key". A block says key k when:
//! 1. the block is loud enough: both the row and the column tone are above
//!    [`MIN_TONE_AMPLITUDE`] (about -43 dBm0 each);
//! 2. one row and one column tone dominate: the strongest row tone is at least 6 dB above
//!    the other three rows, and likewise for the columns;
//! 3. the twist (level difference between the two tones) is within 8 dB when the row tone
//!    is louder and 4 dB when the column tone is louder;
//! 4. the two tones carry at least 60 % of the block's energy, which rejects speech,
//!    music and noise whose energy is spread over other frequencies.
//!
//! A key is reported once, when two consecutive blocks say the same key (25.5 ms of tone;
//! a 40 ms tone always covers two whole blocks, wherever the block edges fall), and the
//! detector re-arms after two consecutive blocks without that key (25.5 ms; a 50 ms pause
//! always contains two whole blocks), so the same key pressed twice is reported twice.
//! A one-block dropout inside a press does not split it.

/// The sample rate the detector expects.
pub const SAMPLE_RATE: u32 = 8000;
/// Samples per analysis block: 12.75 ms, a bin spacing of 78 Hz, which separates the
/// closest DTMF tones (697 and 770 Hz) by almost one bin and tolerates the 1.5 %
/// frequency error that senders may have.
pub const BLOCK: usize = 102;
/// Row (low group) frequencies in Hz.
pub const ROWS: [f64; 4] = [697.0, 770.0, 852.0, 941.0];
/// Column (high group) frequencies in Hz.
pub const COLUMNS: [f64; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
/// Keys by row, then column.
const KEYS: [[char; 4]; 4] = [
    ['1', '2', '3', 'A'],
    ['4', '5', '6', 'B'],
    ['7', '8', '9', 'C'],
    ['*', '0', '#', 'D'],
];
/// Quietest tone (peak amplitude in 16-bit units) that counts: about -43 dBm0.
pub const MIN_TONE_AMPLITUDE: f64 = 150.0;
/// The strongest tone of a group must exceed the others of its group by this power
/// ratio (6 dB).
const DOMINANCE: f64 = 4.0;
/// Row louder than column by at most 8 dB (power ratio).
const MAX_NORMAL_TWIST: f64 = 6.31;
/// Column louder than row by at most 4 dB (power ratio).
const MAX_REVERSE_TWIST: f64 = 2.51;
/// Share of the block's energy the two tones must carry.
const MIN_TONE_SHARE: f64 = 0.6;
/// Consecutive blocks of one key needed to report it.
const ON_BLOCKS: u32 = 2;
/// Consecutive blocks without a key needed before the same key is reported again.
const OFF_BLOCKS: u32 = 2;

/// Squared magnitude of the discrete Fourier transform of `samples` at `freq_hz`
/// (generalised Goertzel: any frequency, not only bin centres).
///
/// For a sine of amplitude `a` at `freq_hz` over `n` samples this is about `(a·n/2)²`;
/// `2·power/n` is then the sine's energy, comparable with the sum of squared samples.
pub fn goertzel(samples: &[i16], freq_hz: f64, sample_rate: f64) -> f64 {
    Goertzel::new(freq_hz, sample_rate).power(samples.iter().map(|&s| f64::from(s)))
}

/// One Goertzel filter.
#[derive(Debug, Clone, Copy)]
struct Goertzel {
    coeff: f64,
}

impl Goertzel {
    fn new(freq_hz: f64, sample_rate: f64) -> Self {
        let omega = 2.0 * std::f64::consts::PI * freq_hz / sample_rate;
        Goertzel {
            coeff: 2.0 * omega.cos(),
        }
    }

    fn power(&self, samples: impl Iterator<Item = f64>) -> f64 {
        let (mut s1, mut s2) = (0.0f64, 0.0f64);
        for x in samples {
            let s0 = x + self.coeff * s1 - s2;
            s2 = s1;
            s1 = s0;
        }
        s1 * s1 + s2 * s2 - self.coeff * s1 * s2
    }
}

/// Detects DTMF keys in a stream of 8 kHz audio fed in chunks of any size.
///
/// ```
/// use switchboard_media::audio::{silence, tone};
/// use switchboard_media::goertzel::DtmfDetector;
///
/// // Key 5 is 770 Hz + 1336 Hz.
/// let low = tone(770.0, 60, 6000);
/// let high = tone(1336.0, 60, 6000);
/// let mut audio: Vec<i16> = low.iter().zip(&high).map(|(a, b)| a + b).collect();
/// audio.extend(silence(60));
/// let mut detector = DtmfDetector::new();
/// assert_eq!(detector.feed(&audio), vec!['5']);
/// ```
#[derive(Debug, Clone)]
pub struct DtmfDetector {
    rows: [Goertzel; 4],
    columns: [Goertzel; 4],
    block: Vec<f64>,
    /// The key being held, already reported.
    current: Option<char>,
    /// The key of the latest blocks and how many blocks in a row said it.
    candidate: Option<(char, u32)>,
    /// Blocks in a row without a key.
    quiet: u32,
}

impl Default for DtmfDetector {
    fn default() -> Self {
        Self::new()
    }
}

impl DtmfDetector {
    /// A detector that has heard nothing.
    pub fn new() -> Self {
        let rate = f64::from(SAMPLE_RATE);
        DtmfDetector {
            rows: ROWS.map(|f| Goertzel::new(f, rate)),
            columns: COLUMNS.map(|f| Goertzel::new(f, rate)),
            block: Vec::with_capacity(BLOCK),
            current: None,
            candidate: None,
            quiet: OFF_BLOCKS,
        }
    }

    /// Forgets all audio heard so far.
    pub fn reset(&mut self) {
        *self = Self::new();
    }

    /// Feeds the next samples; returns the keys whose press was recognised in them, in
    /// order. A key is reported once per press.
    pub fn feed(&mut self, samples: &[i16]) -> Vec<char> {
        let mut keys = Vec::new();
        for &s in samples {
            self.block.push(f64::from(s));
            if self.block.len() == BLOCK {
                let key = self.classify();
                self.block.clear();
                if let Some(key) = self.debounce(key) {
                    keys.push(key);
                }
            }
        }
        keys
    }

    /// The key one full block says, if any.
    fn classify(&self) -> Option<char> {
        let n = self.block.len() as f64;
        let energy: f64 = self.block.iter().map(|x| x * x).sum();
        // Each tone's energy in the block: 2·|X|²/n.
        let tone = |g: &Goertzel| 2.0 * g.power(self.block.iter().copied()) / n;
        let rows = self.rows.map(|g| tone(&g));
        let columns = self.columns.map(|g| tone(&g));
        let (row, row_power) = dominant(&rows)?;
        let (column, column_power) = dominant(&columns)?;
        let min_power = MIN_TONE_AMPLITUDE * MIN_TONE_AMPLITUDE / 2.0 * n;
        let loud_enough = row_power >= min_power && column_power >= min_power;
        let twist_ok = row_power <= column_power * MAX_NORMAL_TWIST
            && column_power <= row_power * MAX_REVERSE_TWIST;
        let pure = row_power + column_power >= MIN_TONE_SHARE * energy;
        (loud_enough && twist_ok && pure).then(|| KEYS[row][column])
    }

    /// Turns per-block keys into presses: reported after [`ON_BLOCKS`], re-armed after
    /// [`OFF_BLOCKS`].
    fn debounce(&mut self, key: Option<char>) -> Option<char> {
        let Some(key) = key else {
            self.candidate = None;
            self.quiet = self.quiet.saturating_add(1);
            if self.quiet >= OFF_BLOCKS {
                self.current = None;
            }
            return None;
        };
        self.quiet = 0;
        let count = match self.candidate {
            Some((k, count)) if k == key => count + 1,
            _ => 1,
        };
        self.candidate = Some((key, count));
        if count >= ON_BLOCKS && self.current != Some(key) {
            self.current = Some(key);
            return Some(key);
        }
        None
    }
}

/// Index and power of the tone that dominates its group, if one does.
fn dominant(powers: &[f64; 4]) -> Option<(usize, f64)> {
    let (best, &power) = powers
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))?;
    let others_quiet = powers
        .iter()
        .enumerate()
        .all(|(i, &p)| i == best || p * DOMINANCE <= power);
    others_quiet.then_some((best, power))
}
