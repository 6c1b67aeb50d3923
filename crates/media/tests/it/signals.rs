//! Test signals shared by the areas: DTMF key tones, sine mixtures at any rate, and
//! deterministic noise.

use std::f64::consts::PI;

/// Row and column frequencies of a DTMF key.
pub fn key_freqs(key: char) -> (f64, f64) {
    const ROWS: [f64; 4] = [697.0, 770.0, 852.0, 941.0];
    const COLUMNS: [f64; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
    const KEYS: [&str; 4] = ["123A", "456B", "789C", "*0#D"];
    for (r, row) in KEYS.iter().enumerate() {
        if let Some(c) = row.find(key) {
            return (ROWS[r], COLUMNS[c]);
        }
    }
    panic!("not a DTMF key: {key}");
}

/// A sum of sines `(freq, amplitude)` at `rate` Hz lasting `samples` samples.
pub fn sines(rate: f64, samples: usize, parts: &[(f64, f64)]) -> Vec<f64> {
    (0..samples)
        .map(|n| {
            parts
                .iter()
                .map(|&(f, a)| a * (2.0 * PI * f * n as f64 / rate).sin())
                .sum()
        })
        .collect()
}

/// Rounds and clips float samples (16-bit scale) to i16.
pub fn to_i16(samples: &[f64]) -> Vec<i16> {
    samples
        .iter()
        .map(|x| x.round().clamp(-32768.0, 32767.0) as i16)
        .collect()
}

/// `ms` of the key's two tones at 8 kHz, each with peak `amplitude`.
pub fn key_tone(key: char, ms: usize, amplitude: f64) -> Vec<i16> {
    let (row, column) = key_freqs(key);
    to_i16(&sines(
        8000.0,
        ms * 8,
        &[(row, amplitude), (column, amplitude)],
    ))
}

/// Deterministic uniform noise in `-amplitude..amplitude` (xorshift).
pub struct Noise(u64);

impl Noise {
    pub fn new(seed: u64) -> Self {
        Noise(seed.max(1))
    }

    pub fn next(&mut self, amplitude: f64) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        ((self.0 >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0) * amplitude
    }

    /// Adds noise to samples.
    pub fn add(&mut self, samples: &[i16], amplitude: f64) -> Vec<i16> {
        samples
            .iter()
            .map(|&s| {
                (f64::from(s) + self.next(amplitude))
                    .round()
                    .clamp(-32768.0, 32767.0) as i16
            })
            .collect()
    }
}
