//! SDP offer/answer for one audio stream (RFC 3264): what the peer offers (address, port,
//! codecs in its order of preference, the telephone-event payload type, direction) and
//! the answer or offer Switchboard sends back. Parsing is done by the `sdp-types` crate;
//! this module only interprets the audio media line.

use std::net::{IpAddr, SocketAddr};

use sdp_types::{Connection, MediaType, Origin, Session, TransportProto};
use switchboard_media::g711::Codec;

/// Why a session description cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SdpError {
    /// Not a session description at all.
    #[error("malformed SDP: {0}")]
    Malformed(String),
    /// No audio stream, or none that Switchboard can send and receive.
    #[error("no acceptable audio stream (Switchboard speaks PCMU and PCMA over RTP/AVP)")]
    NotAcceptable,
}

/// Which way media flows, from the describing side's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Both ways.
    SendRecv,
    /// The describing side only sends (it puts the other on hold).
    SendOnly,
    /// The describing side only receives.
    RecvOnly,
    /// No media (hold).
    Inactive,
}

impl Direction {
    fn attribute(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }
}

/// The audio stream a peer described.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description {
    /// Where to send RTP (`0.0.0.0` means "hold" in old-style SDP).
    pub addr: SocketAddr,
    /// The G.711 codecs offered, with their payload types, in the peer's order.
    pub codecs: Vec<(u8, Codec)>,
    /// The payload type of `telephone-event/8000` (RFC 4733), if offered.
    pub telephone_event: Option<u8>,
    /// Media direction.
    pub direction: Direction,
    /// Where RTCP goes when it is not the next port (`a=rtcp`, RFC 3605).
    pub rtcp: Option<SocketAddr>,
}

impl Description {
    /// Reads the first audio stream of an SDP body.
    pub fn parse(body: &[u8]) -> Result<Description, SdpError> {
        let session = Session::parse(body).map_err(|e| SdpError::Malformed(e.to_string()))?;
        let media = session
            .medias
            .iter()
            .find(|m| m.media == "audio" && m.port != 0)
            .ok_or(SdpError::NotAcceptable)?;
        if !matches!(
            media.parse_transport_proto(),
            TransportProto::RtpAvp | TransportProto::RtpAvpf
        ) {
            return Err(SdpError::NotAcceptable);
        }
        let connection = media
            .connections
            .first()
            .or(session.connection.as_ref())
            .ok_or_else(|| SdpError::Malformed("no connection (c=) line".into()))?;
        let ip: IpAddr = connection
            .try_address()
            .map_err(|e| SdpError::Malformed(format!("connection address: {e}")))?
            .ip;
        let rtpmaps: Vec<(u8, String)> = media
            .attributes
            .iter()
            .filter(|a| a.attribute == "rtpmap")
            .filter_map(|a| {
                let (pt, name) = a.value.as_deref()?.split_once(' ')?;
                Some((pt.trim().parse().ok()?, name.trim().to_ascii_lowercase()))
            })
            .collect();
        let named = |pt: u8| rtpmaps.iter().find(|(p, _)| *p == pt).map(|(_, n)| n);
        let mut codecs = Vec::new();
        let mut telephone_event = None;
        // RTP payload types have seven bits.
        let types = media
            .fmt
            .split_whitespace()
            .filter_map(|f| f.parse::<u8>().ok());
        for pt in types.filter(|pt| *pt < 128) {
            let codec = match named(pt).map(String::as_str) {
                Some("pcmu/8000" | "pcmu/8000/1") => Some(Codec::Pcmu),
                Some("pcma/8000" | "pcma/8000/1") => Some(Codec::Pcma),
                Some("telephone-event/8000") => {
                    telephone_event.get_or_insert(pt);
                    None
                }
                Some(_) => None,
                None => Codec::from_payload_type(pt),
            };
            if let Some(codec) = codec {
                codecs.push((pt, codec));
            }
        }
        if codecs.is_empty() {
            return Err(SdpError::NotAcceptable);
        }
        let direction = [&media.attributes, &session.attributes]
            .into_iter()
            .flatten()
            .find_map(|a| match a.attribute.as_str() {
                "sendrecv" => Some(Direction::SendRecv),
                "sendonly" => Some(Direction::SendOnly),
                "recvonly" => Some(Direction::RecvOnly),
                "inactive" => Some(Direction::Inactive),
                _ => None,
            })
            .unwrap_or(Direction::SendRecv);
        // `a=rtcp:PORT [IN IP4 ADDRESS]`.
        let rtcp = media
            .attributes
            .iter()
            .find(|a| a.attribute == "rtcp")
            .and_then(|a| {
                let mut words = a.value.as_deref()?.split_whitespace();
                let port = words.next()?.parse().ok()?;
                let ip = words.nth(2).and_then(|w| w.parse().ok()).unwrap_or(ip);
                Some(SocketAddr::new(ip, port))
            });
        Ok(Description {
            addr: SocketAddr::new(ip, media.port),
            codecs,
            telephone_event,
            direction,
            rtcp,
        })
    }

    /// Where the peer takes RTCP: `a=rtcp`, or the port after RTP's.
    pub fn rtcp(&self) -> SocketAddr {
        self.rtcp
            .unwrap_or_else(|| SocketAddr::new(self.addr.ip(), self.addr.port().saturating_add(1)))
    }

    /// Whether the peer put the call on hold (RFC 3264 §8.4, and the older `c=0.0.0.0`).
    pub fn is_hold(&self) -> bool {
        self.addr.ip().is_unspecified()
            || matches!(self.direction, Direction::SendOnly | Direction::Inactive)
    }

    /// Writes a description of Switchboard's side: one audio stream at `addr` with
    /// `codecs` (payload type, codec) and telephone-events on `telephone_event`.
    pub fn write(&self, session_id: u64) -> Vec<u8> {
        let mut origin = Origin::with_ip_addr(session_id, session_id, self.addr.ip());
        origin.set_username("switchboard");
        let mut session = Session::new(origin, "switchboard");
        session.connection = Some(Connection::from_ip_addr(self.addr.ip()));
        session.times.push(sdp_types::Time::new(0, 0));
        let mut fmt: Vec<String> = self.codecs.iter().map(|(pt, _)| pt.to_string()).collect();
        fmt.extend(self.telephone_event.map(|pt| pt.to_string()));
        let mut media = sdp_types::Media::new(
            MediaType::Audio,
            self.addr.port(),
            TransportProto::RtpAvp,
            fmt.join(" "),
        );
        for (pt, codec) in &self.codecs {
            media.add_attribute_with_value("rtpmap", format!("{pt} {}/8000", codec.name()));
        }
        if let Some(pt) = self.telephone_event {
            media.add_attribute_with_value("rtpmap", format!("{pt} telephone-event/8000"));
            media.add_attribute_with_value("fmtp", format!("{pt} 0-15"));
        }
        media.add_attribute_with_value("ptime", "20");
        media.add_attribute_from_str(self.direction.attribute());
        session.medias.push(media);
        let mut out = Vec::new();
        session
            .write(&mut out)
            .expect("writing to a Vec cannot fail");
        out
    }

    /// The answer to this offer from `local` (RFC 3264 §6.1): the first offered codec
    /// Switchboard speaks, telephone-events if offered, and the mirrored direction.
    pub fn answer(&self, local: SocketAddr) -> Description {
        Description {
            addr: local,
            codecs: self.codecs[..1].to_vec(),
            telephone_event: self.telephone_event,
            direction: match self.direction {
                Direction::SendOnly => Direction::RecvOnly,
                Direction::RecvOnly => Direction::SendOnly,
                d => d,
            },
            rtcp: None,
        }
    }

    /// Switchboard's own offer from `local`: PCMU, PCMA and telephone-event 101.
    pub fn offer(local: SocketAddr) -> Description {
        Description {
            addr: local,
            codecs: vec![(0, Codec::Pcmu), (8, Codec::Pcma)],
            telephone_event: Some(101),
            direction: Direction::SendRecv,
            rtcp: None,
        }
    }

    /// The codec to send with, and its payload type (the first listed).
    pub fn codec(&self) -> (u8, Codec) {
        self.codecs[0]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The offer of RFC 4317 §2.1 (PCMU and telephone-event), with the address on the
    // loopback for the test.
    const OFFER: &str = "v=0\r\n\
        o=alice 2890844526 2890844526 IN IP4 127.0.0.1\r\n\
        s=-\r\n\
        c=IN IP4 127.0.0.1\r\n\
        t=0 0\r\n\
        m=audio 49170 RTP/AVP 0 8 97\r\n\
        a=rtpmap:0 PCMU/8000\r\n\
        a=rtpmap:8 PCMA/8000\r\n\
        a=rtpmap:97 telephone-event/8000\r\n";

    #[test]
    fn reads_an_offer() {
        let d = Description::parse(OFFER.as_bytes()).unwrap();
        assert_eq!(d.addr, "127.0.0.1:49170".parse().unwrap());
        assert_eq!(d.codecs, vec![(0, Codec::Pcmu), (8, Codec::Pcma)]);
        assert_eq!(d.telephone_event, Some(97));
        assert_eq!(d.direction, Direction::SendRecv);
        assert!(!d.is_hold());
        assert_eq!(
            d.rtcp(),
            "127.0.0.1:49171".parse().unwrap(),
            "the next port"
        );
    }

    #[test]
    fn reads_an_rtcp_attribute() {
        // RFC 3605 section 2.1's examples: a port alone, and a port with an address.
        let port = OFFER.replace("a=rtpmap:0 PCMU", "a=rtcp:53020\r\na=rtpmap:0 PCMU");
        let d = Description::parse(port.as_bytes()).unwrap();
        assert_eq!(d.rtcp(), "127.0.0.1:53020".parse().unwrap());
        let full = OFFER.replace(
            "a=rtpmap:0 PCMU",
            "a=rtcp:53020 IN IP4 126.16.64.4\r\na=rtpmap:0 PCMU",
        );
        let d = Description::parse(full.as_bytes()).unwrap();
        assert_eq!(d.rtcp(), "126.16.64.4:53020".parse().unwrap());
    }

    #[test]
    fn answers_with_the_first_codec_and_mirrors_direction() {
        let offer = OFFER.replace("t=0 0\r\n", "t=0 0\r\na=sendonly\r\n");
        let d = Description::parse(offer.as_bytes()).unwrap();
        assert!(d.is_hold());
        let local = "127.0.0.1:40000".parse().unwrap();
        let answer = d.answer(local);
        let text = String::from_utf8(answer.write(7)).unwrap();
        assert!(text.contains("m=audio 40000 RTP/AVP 0 97\r\n"), "{text}");
        assert!(
            text.contains("a=rtpmap:97 telephone-event/8000\r\n"),
            "{text}"
        );
        assert!(text.contains("a=recvonly\r\n"), "{text}");
        // What Switchboard writes, it reads back.
        let back = Description::parse(text.as_bytes()).unwrap();
        assert_eq!(back.codecs, vec![(0, Codec::Pcmu)]);
        assert_eq!(back.addr, local);
    }

    #[test]
    fn refuses_what_it_cannot_speak() {
        let g729 = OFFER
            .replace("RTP/AVP 0 8 97", "RTP/AVP 18")
            .replace("a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n", "");
        assert_eq!(
            Description::parse(g729.as_bytes()),
            Err(SdpError::NotAcceptable)
        );
        let srtp = OFFER.replace("RTP/AVP", "RTP/SAVP");
        assert_eq!(
            Description::parse(srtp.as_bytes()),
            Err(SdpError::NotAcceptable)
        );
        assert!(matches!(
            Description::parse(b"hello"),
            Err(SdpError::Malformed(_))
        ));
        let no_c = OFFER.replace("c=IN IP4 127.0.0.1\r\n", "");
        assert!(matches!(
            Description::parse(no_c.as_bytes()),
            Err(SdpError::Malformed(_))
        ));
    }

    proptest::proptest! {
        /// A peer's SDP is untrusted: bytes of any kind are refused with an error, never a
        /// panic.
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
            let _ = Description::parse(&bytes);
        }

        /// The offer with one line replaced by anything, or cut anywhere: an error or a
        /// description, never a panic; and what is read can be answered and written.
        #[test]
        fn damaged_offers_never_panic(line in 0usize..11, junk in "\\PC{0,40}", cut in 0usize..400) {
            let mut lines: Vec<&str> = OFFER.split("\r\n").collect();
            if line < lines.len() {
                lines[line] = &junk;
            }
            let damaged = lines.join("\r\n");
            for text in [damaged.as_str(), &OFFER[..cut.min(OFFER.len())]] {
                if let Ok(d) = Description::parse(text.as_bytes()) {
                    let answer = d.answer("127.0.0.1:40000".parse().unwrap());
                    let _ = answer.write(1);
                }
            }
        }
    }
}
