//! G.711: values from the standard's tables, exhaustive round trips, monotonicity.

use switchboard_media::g711::{
    Codec, alaw_decode, alaw_encode, transcode, ulaw_decode, ulaw_encode,
};

/// Quantisation step (16-bit units) of the μ-law segment a code belongs to.
fn ulaw_step(code: u8) -> i32 {
    8 << ((!code >> 4) & 0x07)
}

/// Quantisation step (16-bit units) of the A-law segment a code belongs to.
fn alaw_step(code: u8) -> i32 {
    let segment = ((code ^ 0x55) >> 4) & 0x07;
    16 << segment.saturating_sub(1)
}

#[test]
fn ulaw_decodes_the_standard_values() {
    // G.711 table 2a gives 14-bit values (8031 for the top code); ×4 in 16-bit units.
    assert_eq!(ulaw_decode(0xFF), 0);
    assert_eq!(ulaw_decode(0x7F), 0);
    assert_eq!(ulaw_decode(0x80), 32124);
    assert_eq!(ulaw_decode(0x00), -32124);
    assert_eq!(ulaw_decode(0xFE), 8);
    assert_eq!(ulaw_decode(0x7E), -8);
    assert_eq!(ulaw_decode(0xF0), 120);
    assert_eq!(ulaw_decode(0xEF), 132);
    assert_eq!(ulaw_decode(0x8F), 16764);
}

#[test]
fn ulaw_encodes_the_standard_values() {
    assert_eq!(ulaw_encode(0), 0xFF);
    assert_eq!(ulaw_encode(-1), 0x7F);
    assert_eq!(ulaw_encode(i16::MAX), 0x80);
    assert_eq!(ulaw_encode(i16::MIN), 0x00);
    assert_eq!(ulaw_encode(32124), 0x80);
    assert_eq!(ulaw_encode(8), 0xFE);
}

#[test]
fn alaw_decodes_the_standard_values() {
    // G.711 table 1a gives 13-bit values (4032 for the top code); ×8 in 16-bit units.
    assert_eq!(alaw_decode(0xD5), 8);
    assert_eq!(alaw_decode(0x55), -8);
    assert_eq!(alaw_decode(0xAA), 32256);
    assert_eq!(alaw_decode(0x2A), -32256);
    assert_eq!(alaw_decode(0xD4), 24);
    assert_eq!(alaw_decode(0xC5), 264);
}

#[test]
fn alaw_encodes_the_standard_values() {
    assert_eq!(alaw_encode(0), 0xD5);
    assert_eq!(alaw_encode(-1), 0x55);
    assert_eq!(alaw_encode(i16::MAX), 0xAA);
    assert_eq!(alaw_encode(i16::MIN), 0x2A);
}

#[test]
fn every_sample_round_trips_within_half_a_step() {
    for x in i16::MIN..=i16::MAX {
        let u = ulaw_encode(x);
        let err = (i32::from(ulaw_decode(u)) - i32::from(x)).abs();
        if i32::from(x).abs() <= 32635 {
            assert!(
                err <= ulaw_step(u) / 2,
                "μ-law {x}: code {u:#04x} error {err}"
            );
        } else {
            // Beyond the clip level every sample maps to the largest code.
            assert_eq!(u & 0x7F, 0, "μ-law {x} clips to the top code");
        }
        let a = alaw_encode(x);
        let err = (i32::from(alaw_decode(a)) - i32::from(x)).abs();
        assert!(
            err <= alaw_step(a) / 2,
            "A-law {x}: code {a:#04x} error {err}"
        );
    }
}

#[test]
fn companding_is_monotonic() {
    let mut previous = (i16::MIN, i16::MIN);
    for x in i16::MIN..=i16::MAX {
        let now = (ulaw_decode(ulaw_encode(x)), alaw_decode(alaw_encode(x)));
        assert!(
            now.0 >= previous.0 && now.1 >= previous.1,
            "not monotonic at {x}"
        );
        previous = now;
    }
}

#[test]
fn every_code_survives_decode_then_encode() {
    for code in 0..=255u8 {
        // μ-law has two zeros (0xFF and 0x7F); "negative zero" encodes as 0xFF.
        let expected = if code == 0x7F { 0xFF } else { code };
        assert_eq!(
            ulaw_encode(ulaw_decode(code)),
            expected,
            "μ-law {code:#04x}"
        );
        assert_eq!(alaw_encode(alaw_decode(code)), code, "A-law {code:#04x}");
    }
}

#[test]
fn the_laws_are_symmetric() {
    for code in 0..=255u8 {
        assert_eq!(ulaw_decode(code), -ulaw_decode(code ^ 0x80));
        assert_eq!(alaw_decode(code), -alaw_decode(code ^ 0x80));
    }
}

#[test]
fn codec_names_and_payload_types() {
    assert_eq!(
        (Codec::Pcmu.payload_type(), Codec::Pcmu.name()),
        (0, "PCMU")
    );
    assert_eq!(
        (Codec::Pcma.payload_type(), Codec::Pcma.name()),
        (8, "PCMA")
    );
    assert_eq!(Codec::from_payload_type(0), Some(Codec::Pcmu));
    assert_eq!(Codec::from_payload_type(8), Some(Codec::Pcma));
    assert_eq!(Codec::from_payload_type(18), None);
    assert_eq!(Codec::from_payload_type(101), None);
    assert_eq!((Codec::Pcmu.silence(), Codec::Pcma.silence()), (0xFF, 0xD5));
}

#[test]
fn codec_encodes_and_decodes_slices() {
    let samples = [0i16, 1000, -1000, 32767, -32768];
    for codec in [Codec::Pcmu, Codec::Pcma] {
        let mut payload = vec![0xAB];
        codec.encode(&samples, &mut payload);
        assert_eq!(payload.len(), 6, "appends one byte per sample");
        let mut decoded = Vec::new();
        codec.decode(&payload[1..], &mut decoded);
        assert_eq!(decoded.len(), samples.len());
        for (&d, &s) in decoded.iter().zip(&samples) {
            assert!(
                (i32::from(d) - i32::from(s)).abs() <= 1024,
                "{codec:?} {s} -> {d}"
            );
        }
    }
}

#[test]
fn transcoding_goes_through_the_linear_value() {
    let all: Vec<u8> = (0..=255).collect();
    assert_eq!(transcode(&all, Codec::Pcmu, Codec::Pcmu), all);
    assert_eq!(transcode(&all, Codec::Pcma, Codec::Pcma), all);
    let alaw = transcode(&all, Codec::Pcmu, Codec::Pcma);
    for (&u, &a) in all.iter().zip(alaw.iter()) {
        assert_eq!(a, alaw_encode(ulaw_decode(u)));
    }
    let ulaw = transcode(&all, Codec::Pcma, Codec::Pcmu);
    for (&a, &u) in all.iter().zip(ulaw.iter()) {
        assert_eq!(u, ulaw_encode(alaw_decode(a)));
    }
    assert_eq!(transcode(&[0xFF], Codec::Pcmu, Codec::Pcma), vec![0xD5]);
    assert_eq!(transcode(&[0xD5], Codec::Pcma, Codec::Pcmu), vec![0xFE]);
}
