//! Audio: WAV loading in every common format with resampling and anti-aliasing, test
//! signals and measurements, mono WAV writing and the stereo call recorder.

use std::io::Cursor;

use hound::{SampleFormat, WavReader, WavSpec, WavWriter};
use proptest::prelude::*;
use switchboard_media::MediaError;
use switchboard_media::audio::{
    Audio, Side, StereoRecorder, beep, load_wav, rms, silence, tone, tone_power, wav_bytes,
    write_wav_mono,
};
use switchboard_media::g711::Codec;

use crate::signals::sines;

/// A WAV file of `frames` (interleaved floats in -1..1) in the given format.
fn wav(rate: u32, channels: u16, bits: u16, format: SampleFormat, frames: &[f64]) -> Vec<u8> {
    let spec = WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: bits,
        sample_format: format,
    };
    let mut cursor = Cursor::new(Vec::new());
    let mut writer = WavWriter::new(&mut cursor, spec).unwrap();
    for &x in frames {
        match format {
            SampleFormat::Float => writer.write_sample(x as f32).unwrap(),
            SampleFormat::Int => {
                let scale = f64::from(1u32 << (bits - 1)) - 1.0;
                writer.write_sample((x * scale).round() as i32).unwrap();
            }
        }
    }
    writer.finalize().unwrap();
    cursor.into_inner()
}

/// One second of a 440 Hz sine at half scale, at `rate`.
fn a440(rate: u32) -> Vec<f64> {
    sines(f64::from(rate), rate as usize, &[(440.0, 0.5)])
}

fn assert_close(actual: usize, expected: usize, tolerance: f64) {
    let error = (actual as f64 - expected as f64).abs() / expected as f64;
    assert!(
        error <= tolerance,
        "{actual} is not within {tolerance} of {expected}"
    );
}

#[test]
fn signals_have_the_asked_length_and_level() {
    assert_eq!(tone(440.0, 250, 1000).len(), 2000);
    assert_eq!(silence(20), vec![0; 160]);
    let b = beep();
    assert_eq!(b.len(), 2000);
    assert!(tone_power(&b, 1000.0) > 0.99);
    let sine = tone(1000.0, 1000, 10000);
    assert!((rms(&sine) - 10000.0 / 2f64.sqrt()).abs() < 5.0);
    assert_eq!(rms(&[]), 0.0);
    assert_eq!(rms(&silence(100)), 0.0);
}

#[test]
fn tone_power_finds_a_known_tone() {
    let mixed: Vec<i16> = tone(440.0, 500, 4000)
        .iter()
        .zip(tone(1000.0, 500, 4000))
        .map(|(a, b)| a + b)
        .collect();
    assert!((tone_power(&mixed, 440.0) - 0.5).abs() < 0.02);
    assert!((tone_power(&mixed, 1000.0) - 0.5).abs() < 0.02);
    assert!(tone_power(&mixed, 700.0) < 0.01);
    assert_eq!(tone_power(&silence(100), 440.0), 0.0);
}

#[test]
fn mono_wav_round_trips_through_hound() {
    let samples: Vec<i16> = (0..1000).map(|i| (i * 37 % 65536 - 32768) as i16).collect();
    let bytes = wav_bytes(&samples).unwrap();
    let mut reader = WavReader::new(Cursor::new(&bytes)).unwrap();
    let spec = reader.spec();
    assert_eq!(
        (spec.channels, spec.sample_rate, spec.bits_per_sample),
        (1, 8000, 16)
    );
    let read: Vec<i16> = reader.samples::<i16>().map(Result::unwrap).collect();
    assert_eq!(read, samples);
    assert_eq!(
        load_wav(&bytes).unwrap(),
        samples,
        "8 kHz mono loads unchanged"
    );
    let mut cursor = Cursor::new(Vec::new());
    write_wav_mono(&mut cursor, &samples).unwrap();
    assert_eq!(cursor.into_inner(), bytes);
}

#[test]
fn a_22050_hz_file_is_resampled_to_8_khz() {
    let bytes = wav(22050, 1, 16, SampleFormat::Int, &a440(22050));
    let audio = load_wav(&bytes).unwrap();
    assert_close(audio.len(), 8000, 0.01);
    assert!(
        tone_power(&audio, 440.0) > 0.95,
        "{}",
        tone_power(&audio, 440.0)
    );
    assert!(
        (rms(&audio) - 0.5 * 32768.0 / 2f64.sqrt()).abs() < 300.0,
        "level kept"
    );
}

#[test]
fn a_16000_hz_file_is_resampled_to_8_khz() {
    let bytes = wav(16000, 1, 16, SampleFormat::Int, &a440(16000));
    let audio = load_wav(&bytes).unwrap();
    assert_close(audio.len(), 8000, 0.01);
    assert!(tone_power(&audio, 440.0) > 0.95);
}

#[test]
fn an_odd_rate_uses_the_sinc_resampler() {
    // 44 101 Hz has no common block with 8 kHz.
    let bytes = wav(44101, 1, 16, SampleFormat::Int, &a440(44101));
    let audio = load_wav(&bytes).unwrap();
    assert_close(audio.len(), 8000, 0.01);
    assert!(tone_power(&audio, 440.0) > 0.95);
}

/// Level of a resampled one-second tone relative to its input, in dB, measured away from
/// the abrupt start and end of the test signal (whose clicks are broadband).
fn gain_db(rate: u32, freq: f64) -> f64 {
    let bytes = wav(
        rate,
        1,
        16,
        SampleFormat::Int,
        &sines(f64::from(rate), rate as usize, &[(freq, 0.5)]),
    );
    let audio = load_wav(&bytes).unwrap();
    assert_close(audio.len(), 8000, 0.01);
    let level = rms(&audio[400..7600]).max(1e-3);
    20.0 * (level / (0.5 * 32768.0 / 2f64.sqrt())).log10()
}

#[test]
fn resampling_removes_frequencies_above_4_khz() {
    // Without the anti-aliasing filter, 6 kHz at 22 050 Hz would fold to 2 kHz.
    for rate in [22050, 16000, 48000, 44101] {
        assert!(
            gain_db(rate, 6000.0) < -60.0,
            "6 kHz from {rate} Hz: {:.1} dB",
            gain_db(rate, 6000.0)
        );
        assert!(gain_db(rate, 4200.0) < -60.0, "4.2 kHz from {rate} Hz");
    }
    // The whole telephone band passes.
    for rate in [22050, 44101] {
        for freq in [300.0, 1000.0, 3400.0] {
            assert!(gain_db(rate, freq).abs() < 0.5, "{freq} Hz from {rate} Hz");
        }
    }
    // Over the whole clip, clicks at the clip's ends included, 6 kHz stays 40 dB down.
    let bytes = wav(
        22050,
        1,
        16,
        SampleFormat::Int,
        &sines(22050.0, 22050, &[(6000.0, 0.5)]),
    );
    assert!(rms(&load_wav(&bytes).unwrap()) < 0.5 * 32768.0 / 2f64.sqrt() / 100.0);
}

#[test]
fn every_common_sample_format_loads() {
    let signal = a440(8000);
    for (bits, format) in [
        (8, SampleFormat::Int),
        (16, SampleFormat::Int),
        (24, SampleFormat::Int),
        (32, SampleFormat::Int),
        (32, SampleFormat::Float),
    ] {
        let audio = load_wav(&wav(8000, 1, bits, format, &signal)).unwrap();
        assert_eq!(audio.len(), 8000);
        let tolerance = if bits == 8 { 300.0 } else { 2.0 };
        for (a, x) in audio.iter().zip(&signal) {
            assert!(
                (f64::from(*a) - x * 32768.0).abs() < tolerance,
                "{bits}-bit {format:?}"
            );
        }
    }
}

#[test]
fn stereo_is_mixed_down() {
    let left = a440(48000);
    let frames: Vec<f64> = left.iter().flat_map(|&l| [l, 0.0]).collect();
    let audio = load_wav(&wav(48000, 2, 16, SampleFormat::Int, &frames)).unwrap();
    assert_close(audio.len(), 8000, 0.01);
    assert!(tone_power(&audio, 440.0) > 0.95);
    let expected = 0.25 * 32768.0 / 2f64.sqrt();
    assert!(
        (rms(&audio) - expected).abs() < 200.0,
        "averaged: {}",
        rms(&audio)
    );
}

#[test]
fn bad_files_are_errors() {
    let good = wav(8000, 1, 16, SampleFormat::Int, &a440(8000));
    assert!(matches!(load_wav(&[]), Err(MediaError::InvalidWav(_))));
    assert!(matches!(
        load_wav(b"RIFF garbage garbage garbage"),
        Err(MediaError::InvalidWav(_))
    ));
    assert!(matches!(
        load_wav(&good[..30]),
        Err(MediaError::InvalidWav(_))
    ));
    assert!(matches!(
        load_wav(&good[..good.len() - 1]),
        Err(MediaError::InvalidWav(_))
    ));
    let slow = wav(500, 1, 16, SampleFormat::Int, &[0.0; 10]);
    assert!(matches!(
        load_wav(&slow),
        Err(MediaError::UnsupportedWav(_))
    ));
}

proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = load_wav(&bytes);
    }

    #[test]
    fn corrupted_headers_never_panic(at in 0usize..44, value in any::<u8>(), cut in 0usize..200) {
        let mut bytes = wav(8000, 1, 16, SampleFormat::Int, &[0.25; 100]);
        bytes[at] = value;
        bytes.truncate(bytes.len() - cut.min(bytes.len()));
        let _ = load_wav(&bytes);
    }
}

fn read_stereo(bytes: Vec<u8>) -> Vec<(i16, i16)> {
    let mut reader = WavReader::new(Cursor::new(bytes)).unwrap();
    let spec = reader.spec();
    assert_eq!(
        (spec.channels, spec.sample_rate, spec.bits_per_sample),
        (2, 8000, 16)
    );
    let samples: Vec<i16> = reader.samples::<i16>().map(Result::unwrap).collect();
    samples.chunks_exact(2).map(|f| (f[0], f[1])).collect()
}

#[test]
fn recorder_writes_caller_left_and_agent_right_in_lockstep() {
    let mut cursor = Cursor::new(Vec::new());
    let mut recorder = StereoRecorder::new(&mut cursor).unwrap();
    recorder.push(&[1, 2, 3], &[-1, -2, -3]).unwrap();
    recorder.push(&[4, 5], &[]).unwrap();
    recorder.push(&[], &[-6]).unwrap();
    assert_eq!(recorder.finish().unwrap(), 6);
    assert_eq!(
        read_stereo(cursor.into_inner()),
        [(1, -1), (2, -2), (3, -3), (4, 0), (5, 0), (0, -6)]
    );
}

#[test]
fn recorder_places_each_side_by_timestamp() {
    let mut cursor = Cursor::new(Vec::new());
    let mut recorder = StereoRecorder::new(&mut cursor).unwrap();
    for (side, at, samples) in [
        (Side::Agent, 2, [20, 21]),
        (Side::Caller, 3, [13, 14]),
        (Side::Caller, 0, [10, 11]),
        (Side::Caller, 1, [99, 12]),
    ] {
        recorder.push_at(side, at, Audio::Linear(&samples)).unwrap();
    }
    assert_eq!(
        recorder.frames_settled(),
        0,
        "held back by the reorder slack"
    );
    assert_eq!(recorder.finish().unwrap(), 5);
    assert_eq!(
        read_stereo(cursor.into_inner()),
        [(10, 0), (99, 0), (12, 20), (13, 21), (14, 0)],
        "gaps are silent, the later push wins"
    );
}

#[test]
fn recorder_drops_audio_for_frames_already_written() {
    type Recorder<'a> = StereoRecorder<&'a mut Cursor<Vec<u8>>>;
    let mut cursor = Cursor::new(Vec::new());
    let mut recorder = StereoRecorder::new(&mut cursor).unwrap();
    let n = Recorder::REORDER_SLACK + 100;
    recorder.push(&vec![1; n], &vec![2; n]).unwrap();
    assert_eq!(recorder.frames_settled(), 100);
    recorder
        .push_at(Side::Caller, 98, Audio::Linear(&[7, 7, 7, 7]))
        .unwrap();
    assert_eq!(recorder.finish().unwrap(), n as u64);
    let frames = read_stereo(cursor.into_inner());
    assert_eq!(
        &frames[97..103],
        [(1, 2), (1, 2), (1, 2), (7, 2), (7, 2), (1, 2)]
    );
}

#[test]
fn a_silent_side_does_not_hold_back_the_other_for_long() {
    let mut cursor = Cursor::new(Vec::new());
    let mut recorder = StereoRecorder::new(&mut cursor).unwrap();
    let lag = StereoRecorder::<&mut Cursor<Vec<u8>>>::MAX_LAG;
    recorder
        .push_at(Side::Caller, 0, Audio::Linear(&vec![1; lag + 800]))
        .unwrap();
    assert_eq!(recorder.frames_settled(), 800);
    recorder
        .push_at(Side::Agent, 0, Audio::Linear(&[5; 100]))
        .unwrap();
    assert_eq!(recorder.finish().unwrap(), (lag + 800) as u64);
    let frames = read_stereo(cursor.into_inner());
    assert_eq!(frames[0], (1, 0), "the agent's late audio was dropped");
}

#[test]
fn a_bogus_timestamp_jump_is_refused() {
    let mut cursor = Cursor::new(Vec::new());
    let mut recorder = StereoRecorder::new(&mut cursor).unwrap();
    assert!(matches!(
        recorder.push_at(Side::Agent, 1 << 31, Audio::Linear(&[1])),
        Err(MediaError::InvalidArgument(_))
    ));
    assert_eq!(recorder.finish().unwrap(), 0);
}

#[test]
fn rtp_packets_are_placed_by_timestamp_not_arrival() {
    let mut cursor = Cursor::new(Vec::new());
    let mut recorder = StereoRecorder::new(&mut cursor).unwrap();
    // Packets of 2 samples, timestamps 1000, 1002, 1004, 1006: they arrive jittered and
    // the third before the second, and land where their timestamps say.
    recorder
        .push_rtp(Side::Caller, 7, 1000, 10, Audio::Linear(&[1, 1]))
        .unwrap();
    recorder
        .push_rtp(Side::Caller, 7, 1004, 13, Audio::Linear(&[3, 3]))
        .unwrap();
    recorder
        .push_rtp(Side::Caller, 7, 1002, 15, Audio::Linear(&[2, 2]))
        .unwrap();
    recorder
        .push_rtp(Side::Caller, 7, 1006, 15, Audio::Linear(&[4, 4]))
        .unwrap();
    // A new stream (SSRC) is placed by the clock; so is one that drifted too far.
    recorder
        .push_rtp(Side::Caller, 8, 0, 20, Audio::Linear(&[5, 5]))
        .unwrap();
    let far = 22 + StereoRecorder::<Cursor<Vec<u8>>>::MAX_DRIFT + 1;
    recorder
        .push_rtp(Side::Caller, 8, 2, far, Audio::Linear(&[6, 6]))
        .unwrap();
    recorder.finish().unwrap();
    let mut reader = WavReader::new(Cursor::new(cursor.into_inner())).unwrap();
    let left: Vec<i16> = reader
        .samples::<i16>()
        .map(Result::unwrap)
        .step_by(2)
        .collect();
    assert_eq!(left[10..18], [1, 1, 2, 2, 3, 3, 4, 4]);
    assert_eq!(left[20..22], [5, 5]);
    assert_eq!(left[22..24], [0, 0], "not at its timestamp's place");
    let far = far as usize;
    assert_eq!(left[far..far + 2], [6, 6]);
}

/// A disk in memory that keeps every write's length (to see how the recorder writes)
/// and is full after `room` bytes.
struct Disk {
    file: Cursor<Vec<u8>>,
    lengths: Vec<usize>,
    room: u64,
}

impl Disk {
    fn of(room: u64) -> Disk {
        Disk {
            file: Cursor::new(Vec::new()),
            lengths: Vec::new(),
            room,
        }
    }
}

impl std::io::Write for Disk {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.file.position() + buf.len() as u64 > self.room {
            return Err(std::io::Error::other("No space left on device"));
        }
        self.lengths.push(buf.len());
        self.file.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl std::io::Seek for Disk {
    fn seek(&mut self, pos: std::io::SeekFrom) -> std::io::Result<u64> {
        self.file.seek(pos)
    }
}

#[test]
fn a_full_disk_stops_the_recording_keeps_what_was_written_and_holds_nothing_more() {
    type Recorder<'a> = StereoRecorder<&'a mut Disk>;
    let batch = Recorder::BATCH;
    // Room for one write of a batch (or a little more), not two.
    let mut disk = Disk::of(44 + 2 * batch as u64 * 4);
    let mut recorder = Recorder::new(&mut disk).unwrap();
    let (caller, agent): (Vec<i16>, Vec<i16>) = (0..160).map(|i| (i, -i)).unzip();
    let mut results = Vec::new();
    for _ in 0..(4 * batch / 160) {
        results.push(recorder.push(&caller, &agent).is_ok());
    }
    let failed = results.iter().position(|ok| !ok).expect("a push fails");
    assert!(failed > 0, "the first batch fits");
    assert!(
        results[failed..].iter().all(|ok| !ok),
        "nothing is taken after the failure"
    );
    assert!(format!("{:?}", recorder).contains("pending_caller: 0"));
    let e = recorder.finish().unwrap_err().to_string();
    let frames = read_stereo(disk.file.into_inner());
    assert!(frames.len() >= batch, "the header was completed for them");
    assert!(
        e.contains(&format!("the file holds the first {} frames", frames.len())),
        "{e}"
    );
    assert_eq!(frames[..3], [(0, 0), (1, -1), (2, -2)]);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// A G.711 payload lands exactly as its decoding would, wherever it falls (over audio
    /// already there, past it, partly on settled frames).
    #[test]
    fn g711_audio_lands_as_its_decoding(
        alaw in any::<bool>(),
        pushes in proptest::collection::vec(
            (any::<bool>(), 0u64..6000, proptest::collection::vec(any::<u8>(), 0..400)),
            1..40,
        ),
    ) {
        let codec = if alaw { Codec::Pcma } else { Codec::Pcmu };
        let (mut coded, mut linear) = (Cursor::new(Vec::new()), Cursor::new(Vec::new()));
        let mut a = StereoRecorder::new(&mut coded).unwrap();
        let mut b = StereoRecorder::new(&mut linear).unwrap();
        for (agent, at, payload) in &pushes {
            let side = if *agent { Side::Agent } else { Side::Caller };
            let mut samples = Vec::new();
            codec.decode(payload, &mut samples);
            a.push_at(side, *at, Audio::G711(codec, payload)).unwrap();
            b.push_at(side, *at, Audio::Linear(&samples)).unwrap();
            prop_assert_eq!(a.frames_settled(), b.frames_settled());
        }
        prop_assert_eq!(a.finish().unwrap(), b.finish().unwrap());
        prop_assert_eq!(coded.into_inner(), linear.into_inner());
    }

    /// Audio pushed in lockstep over many batches reads back whole, each stretch padded
    /// to its longer side, and reaches the writer a batch or more at a time.
    #[test]
    fn long_recordings_read_back_whole_written_a_batch_at_a_time(
        seed in any::<i16>(),
        chunks in proptest::collection::vec((0usize..700, 0usize..700), 1..40),
    ) {
        type Recorder<'a> = StereoRecorder<&'a mut Disk>;
        let mut writes = Disk::of(u64::MAX);
        let mut recorder = Recorder::new(&mut writes).unwrap();
        let mut expected = Vec::new();
        let mut next = seed;
        let mut fresh = |n: usize| -> Vec<i16> {
            (0..n).map(|_| { next = next.wrapping_mul(31).wrapping_add(7); next }).collect()
        };
        for (c, a) in chunks {
            let (caller, agent) = (fresh(c), fresh(a));
            recorder.push(&caller, &agent).unwrap();
            for i in 0..c.max(a) {
                expected.push((
                    caller.get(i).copied().unwrap_or(0),
                    agent.get(i).copied().unwrap_or(0),
                ));
            }
        }
        prop_assert_eq!(recorder.finish().unwrap(), expected.len() as u64);
        // The header, the batches, the rest, the header again.
        let data = &writes.lengths[1..writes.lengths.len() - 1];
        if let Some((_rest, batches)) = data.split_last() {
            for &n in batches {
                prop_assert!(n >= Recorder::BATCH * 4, "a write of {} bytes", n);
            }
        }
        prop_assert_eq!(read_stereo(writes.file.into_inner()), expected);
    }
}
