//! ITU-T G.711 companding (μ-law and A-law) between 16-bit linear PCM and 8-bit codes.
//!
//! Both laws split the magnitude into 8 segments (exponents); each segment holds 16 equal
//! steps (the mantissa) and each segment's step is twice the previous one, so the relative
//! quantisation error stays roughly constant. The byte is `sign | segment << 4 | mantissa`,
//! then μ-law inverts every bit and A-law inverts the even bits (XOR `0x55`).
//!
//! - μ-law works on the magnitude plus a bias of 132 (`0x84`), clipped at 32635, so that
//!   segment boundaries fall on powers of two; decoding returns the middle of the step.
//! - A-law works on the 13 most significant bits; negative samples use their one's
//!   complement so both halves have the same decision levels; segments 0 and 1 share the
//!   same step; decoding returns the middle of the step.
//!
//! Decoding is a table lookup (tables built at compile time); encoding is a few shifts.

use std::borrow::Cow;

/// μ-law bias added to the magnitude so that segment boundaries are powers of two.
const ULAW_BIAS: i32 = 0x84;
/// Largest magnitude μ-law encodes without clipping (32767 minus the bias, rounded down
/// to the top of the last step).
const ULAW_CLIP: i32 = 32635;

/// Decoded value of every μ-law byte.
const ULAW_TABLE: [i16; 256] = {
    let mut table = [0i16; 256];
    let mut code = 0;
    while code < 256 {
        table[code] = ulaw_expand(code as u8);
        code += 1;
    }
    table
};

/// Decoded value of every A-law byte.
const ALAW_TABLE: [i16; 256] = {
    let mut table = [0i16; 256];
    let mut code = 0;
    while code < 256 {
        table[code] = alaw_expand(code as u8);
        code += 1;
    }
    table
};

/// μ-law byte to A-law byte, through the linear value.
const ULAW_TO_ALAW: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut code = 0;
    while code < 256 {
        table[code] = alaw_encode(ULAW_TABLE[code]);
        code += 1;
    }
    table
};

/// A-law byte to μ-law byte, through the linear value.
const ALAW_TO_ULAW: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut code = 0;
    while code < 256 {
        table[code] = ulaw_encode(ALAW_TABLE[code]);
        code += 1;
    }
    table
};

/// Index of the highest set bit of a positive value (`floor(log2(v))`).
const fn top_bit(v: i32) -> i32 {
    31 - v.leading_zeros() as i32
}

/// Encodes one 16-bit linear sample as a μ-law byte (G.711, North America and Japan).
pub const fn ulaw_encode(sample: i16) -> u8 {
    let value = sample as i32;
    let (sign, magnitude) = if value < 0 {
        (0x80, -value)
    } else {
        (0x00, value)
    };
    let magnitude = if magnitude > ULAW_CLIP {
        ULAW_CLIP
    } else {
        magnitude
    };
    let biased = magnitude + ULAW_BIAS;
    // `biased` is in 132..=32767, so its top bit is 7..=14: segment 0..=7.
    let segment = top_bit(biased) - 7;
    let mantissa = (biased >> (segment + 3)) & 0x0F;
    !((sign | (segment << 4) | mantissa) as u8)
}

/// Decodes one μ-law byte to a 16-bit linear sample (the middle of its step).
pub const fn ulaw_decode(code: u8) -> i16 {
    ULAW_TABLE[code as usize]
}

/// The arithmetic behind [`ULAW_TABLE`].
const fn ulaw_expand(code: u8) -> i16 {
    let bits = !code;
    let segment = ((bits >> 4) & 0x07) as i32;
    let mantissa = (bits & 0x0F) as i32;
    let magnitude = (((mantissa << 3) + ULAW_BIAS) << segment) - ULAW_BIAS;
    if bits & 0x80 != 0 {
        -magnitude as i16
    } else {
        magnitude as i16
    }
}

/// Encodes one 16-bit linear sample as an A-law byte (G.711, Europe and most of the world).
pub const fn alaw_encode(sample: i16) -> u8 {
    // A-law quantises 13 bits; negatives use the one's complement so that the decision
    // levels are symmetric around zero.
    let (sign, magnitude) = if sample >= 0 {
        (0x80, (sample >> 3) as i32)
    } else {
        (0x00, (!sample >> 3) as i32)
    };
    // `magnitude` is in 0..=4095.
    let (segment, mantissa) = if magnitude < 32 {
        (0, magnitude >> 1)
    } else {
        let segment = top_bit(magnitude) - 4;
        (segment, (magnitude >> segment) & 0x0F)
    };
    ((sign | (segment << 4) | mantissa) as u8) ^ 0x55
}

/// Decodes one A-law byte to a 16-bit linear sample (the middle of its step).
pub const fn alaw_decode(code: u8) -> i16 {
    ALAW_TABLE[code as usize]
}

/// The arithmetic behind [`ALAW_TABLE`].
const fn alaw_expand(code: u8) -> i16 {
    let bits = code ^ 0x55;
    let segment = ((bits >> 4) & 0x07) as i32;
    let mantissa = (bits & 0x0F) as i32;
    // Step of segment s (in 16-bit units): 16 for s = 0 and 1, then doubling.
    let magnitude = if segment == 0 {
        (mantissa << 4) + 8
    } else {
        ((2 * (mantissa + 16)) + 1) << (segment + 2)
    };
    if bits & 0x80 != 0 {
        magnitude as i16
    } else {
        -magnitude as i16
    }
}

/// A G.711 codec, as negotiated in SDP with its static RTP payload type (RFC 3551).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    /// μ-law, static payload type 0.
    Pcmu,
    /// A-law, static payload type 8.
    Pcma,
}

impl Codec {
    /// The static RTP payload type: 0 for PCMU, 8 for PCMA.
    pub const fn payload_type(self) -> u8 {
        match self {
            Codec::Pcmu => 0,
            Codec::Pcma => 8,
        }
    }

    /// The codec with this static payload type, if it is a G.711 one.
    pub const fn from_payload_type(payload_type: u8) -> Option<Codec> {
        match payload_type {
            0 => Some(Codec::Pcmu),
            8 => Some(Codec::Pcma),
            _ => None,
        }
    }

    /// The encoding name used in SDP `a=rtpmap` lines: `"PCMU"` or `"PCMA"`.
    pub const fn name(self) -> &'static str {
        match self {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
        }
    }

    /// Encodes one sample.
    pub const fn encode_sample(self, sample: i16) -> u8 {
        match self {
            Codec::Pcmu => ulaw_encode(sample),
            Codec::Pcma => alaw_encode(sample),
        }
    }

    /// Decodes one byte.
    pub const fn decode_sample(self, code: u8) -> i16 {
        match self {
            Codec::Pcmu => ulaw_decode(code),
            Codec::Pcma => alaw_decode(code),
        }
    }

    /// The code of digital silence (linear 0): `0xFF` for μ-law, `0xD5` for A-law.
    pub const fn silence(self) -> u8 {
        self.encode_sample(0)
    }

    /// Appends the encoding of `samples` to `out` (one byte per sample).
    pub fn encode(self, samples: &[i16], out: &mut Vec<u8>) {
        out.extend(samples.iter().map(|&s| self.encode_sample(s)));
    }

    /// Appends the decoding of `payload` to `out` (one sample per byte).
    pub fn decode(self, payload: &[u8], out: &mut Vec<i16>) {
        out.extend(payload.iter().map(|&c| self.decode_sample(c)));
    }
}

/// Converts a G.711 payload from one law to the other through the linear value; returns
/// the payload itself when the two codecs are the same (the common case of a relayed
/// conversation, which then copies nothing).
pub fn transcode(payload: &[u8], from: Codec, to: Codec) -> Cow<'_, [u8]> {
    let table = match (from, to) {
        (Codec::Pcmu, Codec::Pcma) => &ULAW_TO_ALAW,
        (Codec::Pcma, Codec::Pcmu) => &ALAW_TO_ULAW,
        _ => return Cow::Borrowed(payload),
    };
    Cow::Owned(payload.iter().map(|&c| table[c as usize]).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_match_the_arithmetic() {
        for code in 0..=255u8 {
            assert_eq!(ulaw_decode(code), ulaw_expand(code));
            assert_eq!(alaw_decode(code), alaw_expand(code));
        }
    }
}
