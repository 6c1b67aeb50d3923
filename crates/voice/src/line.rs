//! One party's media in a call (the caller's, an agent's, a supervisor's): the RTP and
//! RTCP sockets, where the party's media comes from, the law it speaks, the stream
//! Switchboard sends it, the stream's RTCP and the reorder buffer of the party's packets.
//!
//! A call task carries its lines with tokio sockets; while a conversation is plain, a
//! relay thread (see [`crate::relay`]) carries both of its lines with the same sockets
//! taken out of tokio, and gives them back.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Instant;

use switchboard_media::g711::Codec;
use switchboard_media::jitter::Streams;
use switchboard_media::rtp::RtpSender;
use tokio::net::UdpSocket;

use crate::leg::accept_media;
use crate::rtcp::{self, Control};

/// The most a datagram read by a call's task may hold: an RTP or RTCP packet of any
/// common size.
const DATAGRAM: usize = 2048;

/// `buf`, given room for one datagram if it has none. A call's buffers (8 KB for four) are
/// made only when its task reads a socket itself: a conversation lent to a relay thread
/// needs none.
pub(crate) fn room(buf: &mut Vec<u8>) -> &mut [u8] {
    if buf.is_empty() {
        buf.resize(DATAGRAM, 0);
    }
    buf
}

/// One party's media stream, over sockets of type `S`.
pub(crate) struct Line<S = UdpSocket> {
    pub rtp: S,
    pub rtcp: S,
    /// Where the party's media goes: from its SDP, then wherever its media comes from.
    pub remote: SocketAddr,
    pub latched: bool,
    /// The law the party speaks.
    pub codec: Codec,
    /// The payload type of the telephone-events it sends and takes, if any.
    pub telephone_event: Option<u8>,
    /// The stream sent to the party.
    pub sender: RtpSender,
    pub control: Control,
    /// The party's packets, put back in order (datagrams, by sequence number).
    pub order: Streams<Vec<u8>>,
}

/// What a party's SDP said about its media.
pub(crate) struct Peer {
    /// Where its RTP goes, and its RTCP.
    pub rtp: SocketAddr,
    pub rtcp: SocketAddr,
    pub codec: Codec,
    pub telephone_event: Option<u8>,
}

impl<S> Line<S> {
    /// Whether a datagram from `from` is the party's media (see [`accept_media`]).
    pub fn accept(&mut self, from: SocketAddr) -> bool {
        accept_media(&mut self.remote, &mut self.latched, from)
    }

    /// The same line over the sockets `f` makes of its own.
    fn map<T>(self, f: impl Fn(S) -> io::Result<T>) -> io::Result<Line<T>> {
        Ok(Line {
            rtp: f(self.rtp)?,
            rtcp: f(self.rtcp)?,
            remote: self.remote,
            latched: self.latched,
            codec: self.codec,
            telephone_event: self.telephone_event,
            sender: self.sender,
            control: self.control,
            order: self.order,
        })
    }
}

impl Line {
    /// The line of a party whose SDP said `peer`, over the sockets bound for it, sent
    /// `sender`'s stream.
    pub fn new((rtp, rtcp): (UdpSocket, UdpSocket), peer: Peer, sender: RtpSender) -> Line {
        let local = rtcp
            .local_addr()
            .map_or(IpAddr::V4(Ipv4Addr::LOCALHOST), |a| a.ip());
        let mut control = Control::new(local);
        control.start(peer.rtcp, &sender);
        Line {
            rtp,
            rtcp,
            remote: peer.rtp,
            latched: false,
            codec: peer.codec,
            telephone_event: peer.telephone_event,
            sender,
            control,
            order: Streams::default(),
        }
    }

    /// Sends an RTP packet to the party.
    pub async fn send(&self, packet: &[u8]) {
        let _ = self.rtp.send_to(packet, self.remote).await;
    }

    /// The next RTP datagram, its length and source.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        rtcp::recv_from(&self.rtp, buf).await
    }

    /// The next RTCP datagram, its length and source.
    pub async fn recv_rtcp(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        rtcp::recv_from(&self.rtcp, buf).await
    }

    /// Sends the stream's RTCP report if one is due at `now`.
    pub async fn tick(&mut self, now: Instant) {
        if let Some((report, to)) = self.control.tick(now, &self.sender) {
            let _ = self.rtcp.send_to(&report, to).await;
        }
    }

    /// Switchboard ends the stream: a last RTCP report, with a BYE.
    pub async fn bye(&mut self) {
        if let Some((last, to)) = self.control.bye(&self.sender) {
            let _ = self.rtcp.send_to(&last, to).await;
        }
    }

    /// The line with its sockets taken out of tokio (non-blocking still), for a thread
    /// of its own.
    pub fn into_std(self) -> io::Result<Line<std::net::UdpSocket>> {
        self.map(UdpSocket::into_std)
    }
}

impl Line<std::net::UdpSocket> {
    /// The line with its sockets back in tokio (on the runtime of the caller).
    pub fn into_tokio(self) -> io::Result<Line> {
        self.map(UdpSocket::from_std)
    }
}
