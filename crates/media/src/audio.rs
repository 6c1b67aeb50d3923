//! 8 kHz mono audio: loading prompts from WAV files (any common format, resampled), test
//! signals, level measurements, and WAV writing, including the two-channel call recorder.

use std::io::{Cursor, Seek, Write};

use hound::{SampleFormat, WavReader, WavSpec, WavWriter};
use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{
    Async, Fft, FixedAsync, FixedSync, Resampler, SincInterpolationParameters,
    SincInterpolationType, WindowFunction,
};

use crate::MediaError;
use crate::g711::Codec;
use crate::goertzel::goertzel;

/// The sample rate of everything this crate plays, records and detects.
pub const SAMPLE_RATE: u32 = 8000;
/// Lowest sample rate [`load_wav`] accepts.
pub const MIN_WAV_RATE: u32 = 1000;
/// Highest sample rate [`load_wav`] accepts.
pub const MAX_WAV_RATE: u32 = 384_000;
/// Most channels [`load_wav`] mixes down.
pub const MAX_WAV_CHANNELS: u16 = 16;
/// Longest file [`load_wav`] reads: one hour.
pub const MAX_WAV_SECONDS: u64 = 3600;
/// Largest input block (in frames) for which the FFT resampler is used; rates whose ratio
/// to 8 kHz needs bigger blocks (say 44 101 Hz) use the sinc resampler.
const MAX_FFT_BLOCK: usize = 4096;
/// Longest sinc filter used by the sinc resampler.
const MAX_SINC_LEN: usize = 4096;

/// Reads a WAV file (8, 16, 24 or 32-bit integer or 32-bit float PCM, any number of
/// channels up to 16, any rate from 1 kHz to 384 kHz, up to an hour long) and returns it
/// as 8 kHz mono: the channels are averaged, then the audio is resampled with an
/// anti-aliasing resampler when its rate is not 8 kHz. Garbage, truncated or unsupported
/// files are errors.
pub fn load_wav(bytes: &[u8]) -> Result<Vec<i16>, MediaError> {
    let reader =
        WavReader::new(Cursor::new(bytes)).map_err(|e| MediaError::InvalidWav(e.to_string()))?;
    let spec = reader.spec();
    if spec.channels == 0 || spec.channels > MAX_WAV_CHANNELS {
        return Err(MediaError::UnsupportedWav(format!(
            "{} channels (supported: 1 to {MAX_WAV_CHANNELS})",
            spec.channels
        )));
    }
    if !(MIN_WAV_RATE..=MAX_WAV_RATE).contains(&spec.sample_rate) {
        return Err(MediaError::UnsupportedWav(format!(
            "sample rate {} Hz (supported: {MIN_WAV_RATE} to {MAX_WAV_RATE} Hz)",
            spec.sample_rate
        )));
    }
    let seconds = u64::from(reader.duration()) / u64::from(spec.sample_rate);
    if seconds > MAX_WAV_SECONDS {
        return Err(MediaError::UnsupportedWav(format!(
            "{seconds} s long (at most {MAX_WAV_SECONDS} s)"
        )));
    }
    let mono = read_mono(reader, spec)?;
    let resampled = resample(&mono, spec.sample_rate, SAMPLE_RATE)?;
    Ok(resampled.iter().map(|&x| to_i16(x)).collect())
}

/// Every frame of the file as the average of its channels, a float in -1.0..1.0.
fn read_mono(mut reader: WavReader<Cursor<&[u8]>>, spec: WavSpec) -> Result<Vec<f32>, MediaError> {
    let channels = usize::from(spec.channels);
    match (spec.sample_format, spec.bits_per_sample) {
        (SampleFormat::Int, bits @ (8 | 16 | 24 | 32)) => {
            let scale = 1.0 / f64::from(1u32 << (bits - 1));
            let samples = reader
                .samples::<i32>()
                .map(|s| s.map(|s| (f64::from(s) * scale) as f32));
            mix_down(samples, channels)
        }
        (SampleFormat::Float, 32) => mix_down(reader.samples::<f32>(), channels),
        (format, bits) => Err(MediaError::UnsupportedWav(format!(
            "{bits}-bit {} samples (supported: 8, 16, 24 or 32-bit integer, 32-bit float)",
            match format {
                SampleFormat::Int => "integer",
                SampleFormat::Float => "float",
            }
        ))),
    }
}

/// Averages interleaved samples into one channel, frame by frame.
fn mix_down(
    samples: impl Iterator<Item = Result<f32, hound::Error>>,
    channels: usize,
) -> Result<Vec<f32>, MediaError> {
    let mut mono = Vec::new();
    let (mut sum, mut count) = (0.0f32, 0);
    for sample in samples {
        sum += sample.map_err(|e| MediaError::InvalidWav(e.to_string()))?;
        count += 1;
        if count == channels {
            mono.push(sum / channels as f32);
            (sum, count) = (0.0, 0);
        }
    }
    if count != 0 {
        return Err(MediaError::InvalidWav(
            "the last frame is incomplete".to_string(),
        ));
    }
    Ok(mono)
}

/// Resamples mono audio (floats in -1.0..1.0) from `from` Hz to `to` Hz.
///
/// Rates whose ratio to the target reduces to input blocks of at most 4096 frames (11025,
/// 16000, 22050, 32000, 44100, 48000 Hz…) use rubato's synchronous FFT resampler: one FFT
/// per chunk of at least 1024 output frames, the spectrum cut with a Blackman-Harris
/// anti-aliasing filter just below the lower Nyquist frequency; exact for a fixed ratio.
/// Other rates use rubato's asynchronous sinc resampler: a Blackman-Harris windowed sinc
/// of `256 · from / to` taps (256 to 4096), 128x oversampled, cubic interpolation between
/// the oversampled points. Either way the resampler's start-up delay is trimmed, so the
/// output is `ceil(len · to / from)` samples long and aligned with the input.
pub fn resample(samples: &[f32], from: u32, to: u32) -> Result<Vec<f32>, MediaError> {
    if from == to || samples.is_empty() {
        return Ok(samples.to_vec());
    }
    if from == 0 || to == 0 {
        return Err(MediaError::InvalidArgument(
            "sample rates must be positive".to_string(),
        ));
    }
    let (from, to) = (from as usize, to as usize);
    let input = InterleavedSlice::new(samples, 1, samples.len())
        .map_err(|e| MediaError::Resample(e.to_string()))?;
    let divisor = gcd(from, to);
    let (block_in, block_out) = (from / divisor, to / divisor);
    let mut resampler: Box<dyn Resampler<f32>> = if block_in <= MAX_FFT_BLOCK {
        // One FFT per chunk of at least 1024 output frames: a long filter, so a sharp
        // transition band just below the output's Nyquist frequency.
        let chunk = block_in * 1024usize.div_ceil(block_out);
        Box::new(
            Fft::<f32>::new_custom(
                from,
                to,
                chunk,
                1,
                1,
                WindowFunction::BlackmanHarris2,
                FixedSync::Input,
            )
            .map_err(|e| MediaError::Resample(e.to_string()))?,
        )
    } else {
        // The filter runs at the input rate: lengthen it with the downsampling factor so
        // that its transition band stays about as narrow, relative to the output rate, as
        // 256 taps give at 1:1.
        let sinc_len = (256 * from)
            .div_ceil(to)
            .next_multiple_of(8)
            .clamp(256, MAX_SINC_LEN);
        let params = SincInterpolationParameters::new(sinc_len, WindowFunction::BlackmanHarris2)
            .oversampling_factor(128)
            .interpolation(SincInterpolationType::Cubic);
        Box::new(
            Async::<f32>::new_sinc(
                to as f64 / from as f64,
                1.0,
                &params,
                1024,
                1,
                FixedAsync::Input,
            )
            .map_err(|e| MediaError::Resample(e.to_string()))?,
        )
    };
    let output = resampler
        .process_all(&input, samples.len(), None)
        .map_err(|e| MediaError::Resample(e.to_string()))?;
    Ok(output.take_data())
}

fn gcd(mut a: usize, mut b: usize) -> usize {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// A float in -1.0..1.0 as a 16-bit sample, rounded and clipped.
fn to_i16(x: f32) -> i16 {
    // The clamp keeps the value in range, so the cast cannot saturate unexpectedly.
    (x * 32768.0).round().clamp(-32768.0, 32767.0) as i16
}

/// Number of 8 kHz samples in `ms` milliseconds.
fn samples_in(ms: u32) -> usize {
    (u64::from(ms) * u64::from(SAMPLE_RATE) / 1000) as usize
}

/// A sine tone at 8 kHz: `ms` milliseconds at `freq_hz`, with peak `amplitude`.
pub fn tone(freq_hz: f32, ms: u32, amplitude: i16) -> Vec<i16> {
    let step = 2.0 * std::f64::consts::PI * f64::from(freq_hz) / f64::from(SAMPLE_RATE);
    (0..samples_in(ms))
        .map(|n| (f64::from(amplitude) * (step * n as f64).sin()).round() as i16)
        .collect()
}

/// `ms` milliseconds of silence at 8 kHz.
pub fn silence(ms: u32) -> Vec<i16> {
    vec![0; samples_in(ms)]
}

/// The standard prompt beep: 1000 Hz for 250 ms at about -12 dBFS.
pub fn beep() -> Vec<i16> {
    tone(1000.0, 250, 8000)
}

/// Root mean square of the samples (0 for none), in 16-bit units.
pub fn rms(samples: &[i16]) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let sum: f64 = samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    (sum / samples.len() as f64).sqrt()
}

/// Share of the energy of 8 kHz `samples` that lies at `freq_hz`, from 0.0 to about 1.0:
/// close to 1 for a pure tone at that frequency, close to 0 when the tone is absent. Use it
/// to find a known tone in received audio.
///
/// Goertzel over 20 ms blocks (a 50 Hz wide bin), weighted by each block's energy: audio
/// that crossed a network is resampled by clock drift and pieced together from packets,
/// which would smear a tone out of the needle-thin bin of one long Goertzel.
pub fn tone_power(samples: &[i16], freq_hz: f64) -> f64 {
    const BLOCK: usize = 160;
    let energy: f64 = samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    if energy == 0.0 {
        return 0.0;
    }
    let at_tone: f64 = samples
        .chunks(BLOCK)
        .map(|b| 2.0 * goertzel(b, freq_hz, f64::from(SAMPLE_RATE)) / b.len() as f64)
        .sum();
    at_tone / energy
}

/// The format of every WAV file this crate writes: 8 kHz, 16-bit integer PCM.
fn spec(channels: u16) -> WavSpec {
    WavSpec {
        channels,
        sample_rate: SAMPLE_RATE,
        bits_per_sample: 16,
        sample_format: SampleFormat::Int,
    }
}

fn write_error(e: hound::Error) -> MediaError {
    MediaError::WriteWav(e.to_string())
}

/// Writes 8 kHz mono samples as a 16-bit WAV file.
pub fn write_wav_mono<W: Write + Seek>(writer: W, samples: &[i16]) -> Result<(), MediaError> {
    let mut wav = WavWriter::new(writer, spec(1)).map_err(write_error)?;
    let mut out = wav.get_i16_writer(u32::try_from(samples.len()).map_err(|_| {
        MediaError::InvalidArgument("too many samples for one WAV file".to_string())
    })?);
    for &s in samples {
        out.write_sample(s);
    }
    out.flush().map_err(write_error)?;
    wav.finalize().map_err(write_error)
}

/// 8 kHz mono samples as the bytes of a 16-bit WAV file.
pub fn wav_bytes(samples: &[i16]) -> Result<Vec<u8>, MediaError> {
    let mut cursor = Cursor::new(Vec::new());
    write_wav_mono(&mut cursor, samples)?;
    Ok(cursor.into_inner())
}

/// One channel of a [`StereoRecorder`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// Left channel: the caller (customer).
    Caller,
    /// Right channel: the agent.
    Agent,
}

/// Audio pushed into one side of a [`StereoRecorder`]: 16-bit samples, or a G.711 payload,
/// which is decoded straight into place.
#[derive(Debug, Clone, Copy)]
pub enum Audio<'a> {
    /// Linear samples.
    Linear(&'a [i16]),
    /// One sample a byte, in this law.
    G711(Codec, &'a [u8]),
}

impl Audio<'_> {
    fn len(self) -> usize {
        match self {
            Audio::Linear(samples) => samples.len(),
            Audio::G711(_, payload) => payload.len(),
        }
    }

    /// Puts the samples from the `skip`th on into `pending` from `offset` (at most its
    /// length): over what is there, then appended.
    fn put(self, skip: usize, pending: &mut Vec<i16>, offset: usize) {
        let over = pending.get_mut(offset..).unwrap_or_default();
        match self {
            Audio::Linear(samples) => {
                let samples = samples.get(skip..).unwrap_or_default();
                let (head, tail) = samples.split_at(over.len().min(samples.len()));
                over.get_mut(..head.len())
                    .unwrap_or_default()
                    .copy_from_slice(head);
                pending.extend_from_slice(tail);
            }
            Audio::G711(codec, payload) => {
                let payload = payload.get(skip..).unwrap_or_default();
                let (head, tail) = payload.split_at(over.len().min(payload.len()));
                for (s, &code) in over.iter_mut().zip(head) {
                    *s = codec.decode_sample(code);
                }
                pending.extend(tail.iter().map(|&code| codec.decode_sample(code)));
            }
        }
    }
}

impl<'a> From<&'a [i16]> for Audio<'a> {
    fn from(samples: &'a [i16]) -> Self {
        Audio::Linear(samples)
    }
}

/// Records a call as a two-channel 8 kHz 16-bit WAV file: left is the caller, right the
/// agent.
///
/// Either push both sides in lockstep with [`push`](Self::push), or push each side as its
/// audio arrives with [`push_at`](Self::push_at), placed by its position in samples from
/// the start of the recording (for instance from RTP timestamps). A frame is *settled*
/// once both sides have gone [`Self::REORDER_SLACK`] samples past it (so audio that arrives
/// a little out of order still lands in place), or once one side is more than
/// [`Self::MAX_LAG`] samples ahead (the lagging side is then silent for that stretch).
/// Gaps are silence; audio pushed twice for the same stretch of one side keeps the later
/// push; audio for a settled stretch is dropped. Settled frames are written
/// [`Self::BATCH`] at a time, in one write each, so `W` needs no buffer of its own.
/// [`finish`](Self::finish) writes what is left, the shorter side padded with silence,
/// and completes the file's header.
///
/// The file is the canonical 44-byte-header PCM WAV that every player reads; the header
/// is written here (rather than with `hound`, which reads the recordings in the tests)
/// so that frames go from the pending buffers to the file with one copy.
pub struct StereoRecorder<W: Write + Seek> {
    out: W,
    /// Frames written to the file.
    flushed: u64,
    /// Frames settled (at least `flushed`).
    settled: u64,
    /// Per side, the samples from frame `flushed` on.
    pending: [Vec<i16>; 2],
    /// Per side, for [`push_rtp`](Self::push_rtp): the stream's SSRC, and an RTP
    /// timestamp with the position it was placed at.
    anchors: [Option<(u32, u32, u64)>; 2],
    /// The write that failed (a full disk, say): nothing is kept or written after it.
    broken: Option<String>,
}

impl<W: Write + Seek> std::fmt::Debug for StereoRecorder<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StereoRecorder")
            .field("flushed", &self.flushed)
            .field("settled", &self.settled)
            .field("pending_caller", &self.pending[0].len())
            .field("pending_agent", &self.pending[1].len())
            .finish()
    }
}

/// Bytes of the WAV header [`StereoRecorder`] writes.
const HEADER_BYTES: u64 = 44;
/// Bytes of a two-channel 16-bit frame.
const FRAME_BYTES: u64 = 4;

/// The header of a two-channel 8 kHz 16-bit PCM WAV file with `data` bytes of frames.
fn stereo_header(data: u32) -> [u8; HEADER_BYTES as usize] {
    let mut h = [0u8; HEADER_BYTES as usize];
    let fields: [(usize, &[u8]); 13] = [
        (0, b"RIFF"),
        (4, &data.saturating_add(36).to_le_bytes()),
        (8, b"WAVE"),
        (12, b"fmt "),
        (16, &16u32.to_le_bytes()),
        (20, &1u16.to_le_bytes()), // PCM
        (22, &2u16.to_le_bytes()), // channels
        (24, &SAMPLE_RATE.to_le_bytes()),
        (28, &(SAMPLE_RATE * FRAME_BYTES as u32).to_le_bytes()), // bytes per second
        (32, &(FRAME_BYTES as u16).to_le_bytes()),               // block align
        (34, &16u16.to_le_bytes()),                              // bits per sample
        (36, b"data"),
        (40, &data.to_le_bytes()),
    ];
    for (at, bytes) in fields {
        h[at..at + bytes.len()].copy_from_slice(bytes);
    }
    h
}

thread_local! {
    /// Room to interleave frames in before they are written: one per thread, not one per
    /// recording.
    static FRAMES: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl<W: Write + Seek> StereoRecorder<W> {
    /// How far (in samples, 1 s) one side may run ahead of the other before the other is
    /// taken as silent.
    pub const MAX_LAG: usize = 8000;
    /// How far (in samples, 60 ms) both sides must have gone past a frame before it is
    /// settled.
    pub const REORDER_SLACK: usize = 480;
    /// Longest jump forward (in samples, 60 s) that one [`push_at`](Self::push_at) may
    /// make; a larger one is refused as a bogus timestamp rather than filled with silence.
    pub const MAX_GAP: u64 = 480_000;
    /// Settled frames written at a time (256 ms, 8 KiB).
    pub const BATCH: usize = 2048;
    /// Most frames a file holds (its sizes are 32-bit): about 37 hours.
    pub const MAX_FRAMES: u64 = (u32::MAX as u64 - 36) / FRAME_BYTES;

    /// Starts a recording; writes the WAV header to `writer`.
    pub fn new(mut writer: W) -> Result<Self, MediaError> {
        writer
            .write_all(&stereo_header(0))
            .map_err(|e| MediaError::WriteWav(e.to_string()))?;
        // Room for a batch, the reorder slack and a packet: no growing in the common case.
        let room = Self::BATCH + Self::REORDER_SLACK + 320;
        Ok(StereoRecorder {
            out: writer,
            flushed: 0,
            settled: 0,
            pending: [Vec::with_capacity(room), Vec::with_capacity(room)],
            anchors: [None, None],
            broken: None,
        })
    }

    /// How far (in samples, 200 ms) a stream's timestamps may drift from the wall clock
    /// before [`push_rtp`](Self::push_rtp) places it by the clock again.
    pub const MAX_DRIFT: u64 = 1600;

    /// Places one RTP packet's `audio` of `side` by its `timestamp` (8 kHz): the first
    /// packet of a stream (an SSRC) lands at `now` (samples since the recording started,
    /// by the wall clock) and later ones at their timestamp's distance from it, so that
    /// arrival jitter and reordering move nothing. A stream whose placement drifts more
    /// than [`Self::MAX_DRIFT`] from `now` (a restarted clock, a long pause) is placed by
    /// the clock again.
    pub fn push_rtp(
        &mut self,
        side: Side,
        ssrc: u32,
        timestamp: u32,
        now: u64,
        audio: Audio<'_>,
    ) -> Result<(), MediaError> {
        let anchor = &mut self.anchors[side as usize];
        let placed = match *anchor {
            Some((s, ts, at)) if s == ssrc => {
                let at = at.checked_add_signed(i64::from(timestamp.wrapping_sub(ts) as i32));
                at.filter(|at| at.abs_diff(now) <= Self::MAX_DRIFT)
            }
            _ => None,
        };
        let at = placed.unwrap_or_else(|| {
            *anchor = Some((ssrc, timestamp, now));
            now
        });
        self.push_at(side, at, audio)
    }

    /// Frames settled so far: written, or to be written as they are (audio pushed for
    /// them is dropped).
    pub fn frames_settled(&self) -> u64 {
        self.settled
    }

    /// Appends one stretch of audio to both sides, starting after everything pushed so
    /// far; when one side is shorter (or empty), it is padded with silence.
    pub fn push(&mut self, caller: &[i16], agent: &[i16]) -> Result<(), MediaError> {
        self.working()?;
        let start = self.end(Side::Caller).max(self.end(Side::Agent));
        let end = start + caller.len().max(agent.len()) as u64;
        Self::check_length(end)?;
        self.place(Side::Caller, start, caller.into());
        self.place(Side::Agent, start, agent.into());
        for side in [Side::Caller, Side::Agent] {
            self.place(side, end, Audio::Linear(&[]));
        }
        self.settle(false)
    }

    /// Places `audio` of one side starting at sample `at` from the start of the
    /// recording.
    pub fn push_at(&mut self, side: Side, at: u64, audio: Audio<'_>) -> Result<(), MediaError> {
        self.working()?;
        let frontier = self.end(side);
        if at > frontier + Self::MAX_GAP {
            return Err(MediaError::InvalidArgument(format!(
                "recording position {at} is more than {} samples past {frontier}",
                Self::MAX_GAP
            )));
        }
        Self::check_length(at + audio.len() as u64)?;
        self.place(side, at, audio);
        self.settle(false)
    }

    /// Writes the rest and completes the file; returns the number of frames in it. After
    /// a failed write, the header is still completed (for the frames written before it)
    /// and the failure is the answer.
    pub fn finish(mut self) -> Result<u64, MediaError> {
        let settled = self.settle(true);
        // At most MAX_FRAMES: the header's sizes fit.
        let data = u32::try_from(self.flushed * FRAME_BYTES).unwrap_or(u32::MAX - 36);
        let io = |e: std::io::Error| MediaError::WriteWav(e.to_string());
        self.out.seek(std::io::SeekFrom::Start(0)).map_err(io)?;
        self.out.write_all(&stereo_header(data)).map_err(io)?;
        self.out.flush().map_err(io)?;
        settled.and(self.working())?;
        Ok(self.flushed)
    }

    /// The failed write, if one failed.
    fn working(&self) -> Result<(), MediaError> {
        match &self.broken {
            Some(e) => Err(MediaError::WriteWav(format!(
                "{e} (the file holds the first {} frames)",
                self.flushed
            ))),
            None => Ok(()),
        }
    }

    /// Refuses audio that would end past [`Self::MAX_FRAMES`].
    fn check_length(end: u64) -> Result<(), MediaError> {
        if end > Self::MAX_FRAMES {
            return Err(MediaError::WriteWav(format!(
                "a WAV file holds at most {} frames",
                Self::MAX_FRAMES
            )));
        }
        Ok(())
    }

    /// The position just past a side's audio so far.
    fn end(&self, side: Side) -> u64 {
        self.flushed + self.pending[side as usize].len() as u64
    }

    /// Puts `audio` into a side's pending buffer at absolute position `at`, padding with
    /// silence up to it and dropping what falls on settled frames.
    fn place(&mut self, side: Side, at: u64, audio: Audio<'_>) {
        let (skip, at) = if at < self.settled {
            let late = usize::try_from(self.settled - at).unwrap_or(usize::MAX);
            (late.min(audio.len()), self.settled)
        } else {
            (0, at)
        };
        // `at - flushed` is bounded by MAX_GAP plus the pending length.
        let offset = usize::try_from(at - self.flushed).unwrap_or(usize::MAX);
        let pending = &mut self.pending[side as usize];
        if pending.len() < offset {
            pending.resize(offset, 0);
        }
        audio.put(skip, pending, offset);
    }

    /// Settles the frames both sides have gone past by the reorder slack and the frames
    /// one side has beyond the lag limit, or (when `all`) everything; writes the settled
    /// frames when there is a batch of them (or everything, when `all`).
    fn settle(&mut self, all: bool) -> Result<(), MediaError> {
        let (caller, agent) = (self.end(Side::Caller), self.end(Side::Agent));
        let longest = caller.max(agent);
        let settled = if all {
            longest
        } else {
            (caller.min(agent).saturating_sub(Self::REORDER_SLACK as u64))
                .max(longest.saturating_sub(Self::MAX_LAG as u64))
        };
        self.settled = self.settled.max(settled);
        let ready = usize::try_from(self.settled - self.flushed).unwrap_or(usize::MAX);
        if ready == 0 || (!all && ready < Self::BATCH) || self.broken.is_some() {
            return Ok(());
        }
        for pending in &mut self.pending {
            if pending.len() < ready {
                pending.resize(ready, 0);
            }
        }
        let [caller, agent] = &self.pending;
        let written = FRAMES.with_borrow_mut(|frames| {
            frames.resize(ready * FRAME_BYTES as usize, 0);
            for ((frame, &l), &r) in frames.chunks_exact_mut(4).zip(caller).zip(agent) {
                let [l0, l1] = l.to_le_bytes();
                let [r0, r1] = r.to_le_bytes();
                frame.copy_from_slice(&[l0, l1, r0, r1]);
            }
            self.out.write_all(frames)
        });
        if let Err(e) = written {
            // Nothing more is kept: a call on a full disk does not grow in memory.
            self.broken = Some(e.to_string());
            self.pending = [Vec::new(), Vec::new()];
            return self.working();
        }
        for pending in &mut self.pending {
            pending.drain(..ready);
        }
        self.flushed = self.settled;
        Ok(())
    }
}
