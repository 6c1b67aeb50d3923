//! The RTCP side of each RTP stream of a call (caller, agent and supervisor legs): RTP on
//! an even port and RTCP on the next one (RFC 3550 section 11), a report every five
//! seconds, reports from the peer read, a BYE when Switchboard ends the stream, and the
//! stream's quality reported when it closes.
//!
//! The statistics and the packets are [`switchboard_media::rtcp::RtcpSession`]'s; this
//! module keeps the clock and says what to send where. The socket is the stream's
//! [`Line`](crate::line::Line)'s, so that a relay thread can carry the stream as well as
//! a call task.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::task::{Poll, ready};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use switchboard_media::rtcp::{INTERVAL, Quality, RtcpSession, ntp_from_unix};
use switchboard_media::rtp::{Rtp, RtpSender};
use tokio::io::ReadBuf;
use tokio::net::UdpSocket;

use crate::leg::accept_media;

/// Attempts at finding a free even port whose neighbour is free too.
const PAIR_ATTEMPTS: usize = 64;

/// Binds an RTP socket on an even port of `ip` and its RTCP socket on the next port.
pub(crate) async fn bind_pair(ip: IpAddr) -> std::io::Result<(UdpSocket, UdpSocket)> {
    let mut last = None;
    for _ in 0..PAIR_ATTEMPTS {
        let rtp = UdpSocket::bind((ip, 0)).await?;
        let port = rtp.local_addr()?.port();
        if port % 2 != 0 || port == u16::MAX {
            continue;
        }
        match UdpSocket::bind((ip, port + 1)).await {
            Ok(rtcp) => return Ok((rtp, rtcp)),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no free even/odd port pair")))
}

/// The next datagram on `socket`, its length and source.
///
/// Unlike `UdpSocket::recv_from`, this polls the socket itself: the waiting task's waker
/// is kept in the socket's one reader slot instead of a waiter node queued and dequeued
/// under a lock each time a call task's `select!` builds and drops the future (several
/// times per packet, for every socket the task listens on). Only one task may wait on a
/// socket this way, as each call task alone reads its sockets.
pub(crate) fn recv_from<'a>(
    socket: &'a UdpSocket,
    buf: &'a mut [u8],
) -> impl Future<Output = std::io::Result<(usize, SocketAddr)>> + 'a {
    std::future::poll_fn(move |cx| {
        let mut read = ReadBuf::new(buf);
        let from = ready!(socket.poll_recv_from(cx, &mut read))?;
        Poll::Ready(Ok((read.filled().len(), from)))
    })
}

/// The wall clock as an NTP timestamp.
fn ntp_now() -> u64 {
    ntp_from_unix(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default(),
    )
}

/// RTCP for one stream.
pub(crate) struct Control {
    /// The address reports are sent from (for the CNAME).
    local: IpAddr,
    /// Where reports go: from the peer's SDP, then wherever its reports come from.
    remote: Option<SocketAddr>,
    latched: bool,
    session: Option<RtcpSession>,
    /// Arrival times are counted from here, in 8 kHz units.
    started: Instant,
    /// When the next report is due.
    due: Instant,
}

impl Control {
    /// RTCP for a stream whose reports are sent from `local`.
    pub fn new(local: IpAddr) -> Control {
        let now = Instant::now();
        Control {
            local,
            remote: None,
            latched: false,
            session: None,
            started: now,
            due: now + INTERVAL / 2,
        }
    }

    /// The stream is set up: reports about `sender`'s stream go to `remote` (the
    /// peer's RTCP address from its SDP).
    pub fn start(&mut self, remote: SocketAddr, sender: &RtpSender) {
        let cname = format!("switchboard@{}", self.local);
        self.remote = Some(remote);
        self.session = Some(RtcpSession::new(sender.ssrc(), &cname));
    }

    /// An RTP packet from the peer arrived just now; `timed` unless it is a telephone-event.
    pub fn received(&mut self, packet: &Rtp<'_>, timed: bool) {
        if let Some(s) = &mut self.session {
            let arrival = (self.started.elapsed().as_micros() * 8 / 1000) as u32;
            s.received(packet, arrival, timed);
        }
    }

    /// Packets of the peer's stream `ssrc` passed on by the kernel's media path (see
    /// [`RtcpSession::received_elsewhere`]).
    pub fn received_elsewhere(&mut self, ssrc: u32, max_seq: u16, packets: u32) {
        if let Some(s) = &mut self.session {
            s.received_elsewhere(ssrc, max_seq, packets);
        }
    }

    /// Whether a report is due at `now`.
    pub fn due(&self, now: Instant) -> bool {
        now >= self.due
    }

    /// The report about `sender`'s stream to send, and where, if one is due at `now`.
    pub fn tick(&mut self, now: Instant, sender: &RtpSender) -> Option<(Vec<u8>, SocketAddr)> {
        if !self.due(now) {
            return None;
        }
        self.due = now + INTERVAL;
        let (s, remote) = (self.session.as_mut()?, self.remote?);
        Some((s.report(ntp_now(), sender), remote))
    }

    /// Reads a datagram from `from` (a report from the peer, or junk, which is dropped).
    pub fn handle(&mut self, datagram: &[u8], from: SocketAddr) {
        let Some(s) = &mut self.session else { return };
        let mut remote = self.remote.unwrap_or(from);
        if !accept_media(&mut remote, &mut self.latched, from) {
            return;
        }
        self.remote = Some(remote);
        if let Err(e) = s.handle(datagram, ntp_now()) {
            tracing::debug!(%from, "RTCP: {e}");
        }
    }

    /// Switchboard ends the stream: a last report, with a BYE, and where it goes.
    pub fn bye(&mut self, sender: &RtpSender) -> Option<(Vec<u8>, SocketAddr)> {
        let (s, remote) = (self.session.as_mut()?, self.remote?);
        Some((s.bye(ntp_now(), sender), remote))
    }

    /// How the stream went so far (nothing before it was set up).
    pub fn quality(&self) -> Option<Quality> {
        self.session.as_ref().map(RtcpSession::quality)
    }
}
