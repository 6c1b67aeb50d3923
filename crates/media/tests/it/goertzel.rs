//! In-band DTMF: every key at several levels and with noise, chunking, presses counted
//! once, re-arming after a pause, and talk-off (tones and mixtures that are not keys).

use switchboard_media::audio::{silence, tone};
use switchboard_media::goertzel::{BLOCK, DtmfDetector, goertzel};

use crate::signals::{Noise, key_tone, sines, to_i16};

const KEYS: &str = "123A456B789C*0#D";

fn detect(audio: &[i16]) -> String {
    DtmfDetector::new().feed(audio).into_iter().collect()
}

fn with_silence(parts: &[Vec<i16>]) -> Vec<i16> {
    let mut audio = silence(30);
    for part in parts {
        audio.extend(part);
    }
    audio.extend(silence(60));
    audio
}

#[test]
fn goertzel_measures_a_tone() {
    let sine = tone(1000.0, 100, 1000);
    let n = sine.len() as f64;
    let power = goertzel(&sine, 1000.0, 8000.0);
    let expected = (1000.0 * n / 2.0).powi(2);
    assert!(
        (power / expected - 1.0).abs() < 0.01,
        "{power} vs {expected}"
    );
    assert!(goertzel(&sine, 1500.0, 8000.0) < expected * 1e-4);
}

#[test]
fn every_key_is_detected_once_at_every_level() {
    for amplitude in [200.0, 1000.0, 4000.0, 14000.0] {
        for key in KEYS.chars() {
            let audio = with_silence(&[key_tone(key, 80, amplitude)]);
            assert_eq!(
                detect(&audio),
                key.to_string(),
                "key {key} at amplitude {amplitude}"
            );
        }
    }
}

#[test]
fn keys_are_detected_in_noise() {
    let mut noise = Noise::new(7);
    for key in KEYS.chars() {
        // Each tone is about 14 dB above the noise.
        let audio = noise.add(&with_silence(&[key_tone(key, 80, 3000.0)]), 1000.0);
        assert_eq!(detect(&audio), key.to_string(), "key {key}");
    }
}

#[test]
fn a_dialled_string_is_heard_in_order_whatever_the_chunk_size() {
    let mut parts = Vec::new();
    for key in KEYS.chars() {
        parts.push(key_tone(key, 60, 5000.0));
        parts.push(silence(60));
    }
    let audio = with_silence(&parts);
    for chunk in [1, 7, 101, 102, 160, 1000, audio.len()] {
        let mut detector = DtmfDetector::new();
        let heard: String = audio.chunks(chunk).flat_map(|c| detector.feed(c)).collect();
        assert_eq!(heard, KEYS, "chunks of {chunk}");
    }
}

#[test]
fn the_same_key_after_a_50_ms_pause_counts_twice_wherever_blocks_fall() {
    for offset in (0..BLOCK).step_by(7) {
        let mut audio = vec![0; offset];
        audio.extend(with_silence(&[
            key_tone('5', 60, 4000.0),
            silence(50),
            key_tone('5', 60, 4000.0),
        ]));
        assert_eq!(detect(&audio), "55", "offset {offset}");
    }
}

#[test]
fn a_40_ms_tone_is_detected_wherever_blocks_fall() {
    for offset in (0..BLOCK).step_by(5) {
        let mut audio = vec![0; offset];
        audio.extend(with_silence(&[key_tone('9', 40, 4000.0)]));
        assert_eq!(detect(&audio), "9", "offset {offset}");
    }
}

#[test]
fn a_15_ms_blip_is_not_a_key() {
    for offset in (0..BLOCK).step_by(5) {
        let mut audio = vec![0; offset];
        audio.extend(with_silence(&[key_tone('9', 15, 4000.0)]));
        assert_eq!(detect(&audio), "", "offset {offset}");
    }
}

#[test]
fn a_short_dropout_does_not_split_a_press() {
    let audio = with_silence(&[
        key_tone('8', 80, 4000.0),
        silence(5),
        key_tone('8', 80, 4000.0),
    ]);
    assert_eq!(detect(&audio), "8");
}

#[test]
fn a_key_held_for_a_second_is_one_press() {
    assert_eq!(detect(&with_silence(&[key_tone('#', 1000, 4000.0)])), "#");
}

#[test]
fn frequencies_off_by_1_5_percent_are_accepted() {
    for factor in [0.985, 1.015] {
        let audio = to_i16(&sines(
            8000.0,
            640,
            &[(852.0 * factor, 4000.0), (1477.0 * factor, 4000.0)],
        ));
        assert_eq!(detect(&with_silence(&[audio])), "9", "factor {factor}");
    }
}

#[test]
fn single_tones_are_not_keys() {
    for freq in [
        697.0, 770.0, 852.0, 941.0, 1209.0, 1336.0, 1477.0, 1633.0, 1000.0, 440.0,
    ] {
        let audio = with_silence(&[tone(freq, 500, 8000)]);
        assert_eq!(detect(&audio), "", "{freq} Hz alone");
    }
}

#[test]
fn speech_like_mixtures_are_not_keys() {
    let mixtures: [&[(f64, f64)]; 4] = [
        &[(500.0, 3000.0), (1100.0, 2000.0), (2000.0, 1000.0)],
        &[(300.0, 5000.0), (1000.0, 3000.0), (2500.0, 1000.0)],
        &[(600.0, 3000.0), (1850.0, 3000.0), (3000.0, 1500.0)],
        // Two DTMF rows at once: no single row dominates.
        &[(697.0, 3000.0), (852.0, 3000.0), (1336.0, 3000.0)],
    ];
    for parts in mixtures {
        let audio = to_i16(&sines(8000.0, 8000, parts));
        assert_eq!(detect(&with_silence(&[audio])), "", "{parts:?}");
    }
}

#[test]
fn a_dtmf_pair_buried_in_other_sound_is_not_a_key() {
    // Key 1's tones carry under 60 % of the energy.
    let audio = to_i16(&sines(
        8000.0,
        4000,
        &[
            (697.0, 2000.0),
            (1209.0, 2000.0),
            (400.0, 3000.0),
            (2200.0, 2000.0),
        ],
    ));
    assert_eq!(detect(&with_silence(&[audio])), "");
}

#[test]
fn excessive_twist_is_rejected() {
    // Row tone 12 dB above the column tone, then column tone 8 dB above the row tone.
    for (row, column) in [(8000.0, 2000.0), (2000.0, 5000.0)] {
        let audio = to_i16(&sines(8000.0, 800, &[(770.0, row), (1209.0, column)]));
        assert_eq!(detect(&with_silence(&[audio])), "", "{row} / {column}");
    }
    // 6 dB of normal twist is fine.
    let audio = to_i16(&sines(8000.0, 800, &[(770.0, 4000.0), (1209.0, 2000.0)]));
    assert_eq!(detect(&with_silence(&[audio])), "4");
}

#[test]
fn noise_and_quiet_tones_are_not_keys() {
    let mut noise = Noise::new(99);
    let hiss = noise.add(&silence(2000), 8000.0);
    assert_eq!(detect(&hiss), "");
    let faint = with_silence(&[key_tone('1', 200, 60.0)]);
    assert_eq!(detect(&faint), "", "below the level threshold");
}

#[test]
fn reset_forgets_a_half_heard_press() {
    let mut detector = DtmfDetector::new();
    let audio = key_tone('3', 100, 4000.0);
    assert_eq!(detector.feed(&audio), vec!['3']);
    detector.reset();
    assert_eq!(
        detector.feed(&audio),
        vec!['3'],
        "after reset the held key counts again"
    );
}
