//! The agent leg of a call: an outbound INVITE to the agent's registered phone while the
//! routing engine's offer stands, then, once answered, the phone's RTP, relayed to and
//! from the caller (transcoded when the two sides chose different G.711 laws).

use std::net::SocketAddr;
use std::sync::Arc;

use rsipstack::dialog::invitation::{InviteAsyncResult, InviteOption};
use rsipstack::dialog::invite_dialog::InviteDialog;
use rsipstack::platform::{CancellationToken, JoinHandle};
use switchboard_media::g711::Codec;
use switchboard_media::rtp::RtpSender;
use tokio::net::UdpSocket;

use crate::sdp::Description;
use crate::sip::{Live, Shared};

/// The agent leg's state.
pub(crate) enum Leg {
    /// No agent phone involved.
    Idle,
    /// The phone rings.
    Ringing(Ringing),
    /// The phone answered: media is relayed.
    Up(Up),
}

/// A ringing agent phone.
pub(crate) struct Ringing {
    pub agent: String,
    dialog: InviteDialog,
    result: JoinHandle<InviteAsyncResult>,
    socket: UdpSocket,
    local: Description,
}

/// An answered agent phone.
pub(crate) struct Up {
    pub agent: String,
    dialog: InviteDialog,
    id: String,
    socket: UdpSocket,
    remote: SocketAddr,
    latched: bool,
    /// The law the phone speaks.
    pub codec: Codec,
    sender: RtpSender,
    gone: CancellationToken,
}

/// Something that happened on the agent leg.
pub(crate) enum LegEvent {
    /// The INVITE got its final answer (or failed).
    Answered(InviteAsyncResult),
    /// A datagram arrived on the leg's RTP socket (its length and source).
    Received(usize, SocketAddr),
    /// The agent hung up.
    Gone,
}

impl Leg {
    /// The next thing that happens on the leg (never, when idle).
    pub async fn next(&mut self, buf: &mut [u8]) -> LegEvent {
        match self {
            Leg::Idle => std::future::pending().await,
            Leg::Ringing(r) => LegEvent::Answered(match (&mut r.result).await {
                Ok(result) => result,
                Err(e) => Err(rsipstack::Error::Error(e.to_string())),
            }),
            Leg::Up(up) => tokio::select! {
                () = up.gone.cancelled() => LegEvent::Gone,
                r = up.socket.recv_from(buf) => match r {
                    Ok((n, from)) => LegEvent::Received(n, from),
                    // A transient socket error (e.g. ICMP unreachable): skip it.
                    Err(_) => LegEvent::Received(0, up.remote),
                },
            },
        }
    }

    /// Ends the leg: CANCEL a ringing phone, BYE an answered one.
    pub async fn end(self, shared: &Shared) {
        match self {
            Leg::Idle => {}
            Leg::Ringing(r) => {
                let _ = r.dialog.cancel().await;
            }
            Leg::Up(up) => {
                let _ = up.dialog.hangup().await;
                up.closed(shared);
            }
        }
    }

    /// The agent whose phone this leg is.
    pub fn agent(&self) -> Option<&str> {
        match self {
            Leg::Idle => None,
            Leg::Ringing(r) => Some(&r.agent),
            Leg::Up(u) => Some(&u.agent),
        }
    }
}

/// Rings `agent`'s phone for a call from `caller`.
pub(crate) async fn ring(shared: &Arc<Shared>, agent: &str, caller: &str) -> Result<Ringing, String> {
    let now = std::time::Instant::now();
    // The most recent registration is the phone the agent is at.
    let target = shared
        .registrar
        .contacts(agent, now)
        .pop()
        .ok_or_else(|| "no phone registered".to_string())?;
    let callee = rsipstack::sip::Uri::try_from(target.as_str()).map_err(|e| e.to_string())?;
    let socket = UdpSocket::bind((shared.media_ip, 0))
        .await
        .map_err(|e| format!("no RTP port: {e}"))?;
    let local = Description::offer(socket.local_addr().map_err(|e| e.to_string())?);
    let here = shared.addr;
    let caller_uri = format!("sip:{}@{here}", if caller.is_empty() { "anonymous" } else { caller });
    let option = InviteOption {
        caller: rsipstack::sip::Uri::try_from(caller_uri.as_str())
            .or_else(|_| rsipstack::sip::Uri::try_from(format!("sip:anonymous@{here}").as_str()))
            .map_err(|e| e.to_string())?,
        callee,
        contact: rsipstack::sip::Uri::try_from(format!("sip:switchboard@{here}").as_str())
            .map_err(|e| e.to_string())?,
        content_type: Some("application/sdp".into()),
        offer: Some(local.write(u64::from(local.addr.port()))),
        ..Default::default()
    };
    let (dialog, result) = shared
        .dialogs
        .do_invite_async(option, shared.states.clone())
        .map_err(|e| e.to_string())?;
    Ok(Ringing {
        agent: agent.to_string(),
        dialog,
        result,
        socket,
        local,
    })
}

impl Ringing {
    /// The phone's final answer: an answered leg, or why not.
    pub async fn answered(self, result: InviteAsyncResult, shared: &Shared) -> Result<Up, String> {
        let (id, response) = result.map_err(|e| e.to_string())?;
        let response = response.ok_or_else(|| "no answer".to_string())?;
        if response.status_code.kind() != rsipstack::sip::StatusCodeKind::Successful {
            return Err(format!("the phone answered {}", response.status_code));
        }
        let answer = match Description::parse(&response.body) {
            Ok(a) => a,
            Err(e) => {
                let _ = self.dialog.hangup().await;
                return Err(e.to_string());
            }
        };
        let (payload_type, codec) = answer.codec();
        let ssrc = crate::call::new_ssrc();
        let Ok(sender) = RtpSender::new(ssrc, payload_type, ssrc as u16, ssrc) else {
            let _ = self.dialog.hangup().await;
            return Err(format!("payload type {payload_type}"));
        };
        let gone = shared.hangups.child_token();
        let id = id.to_string();
        shared.remember(
            &id,
            Live {
                gone: gone.clone(),
                local: self.local,
            },
        );
        Ok(Up {
            agent: self.agent,
            dialog: self.dialog,
            id,
            socket: self.socket,
            remote: answer.addr,
            latched: false,
            codec,
            sender,
            gone,
        })
    }
}

impl Up {
    /// The leg is over: it is no longer listed anywhere.
    pub fn closed(self, shared: &Shared) {
        shared.forget(&self.id);
        shared.dialogs.remove_dialog(&self.dialog.id());
    }

    /// A datagram from the phone's side: latches its address (symmetric RTP).
    pub fn heard_from(&mut self, from: SocketAddr) {
        if !self.latched {
            self.remote = from;
            self.latched = true;
        }
    }

    /// Sends the caller's audio (already in the phone's law) to the phone.
    pub async fn send(&mut self, payload: &[u8], samples: u32) {
        let packet = self.sender.packet(payload, samples, false);
        let _ = self.socket.send_to(&packet, self.remote).await;
    }
}
