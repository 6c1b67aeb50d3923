//! INVITE dialogs that do not keep their INVITE transaction's event channel.
//!
//! An `rsipstack` INVITE dialog is made with a sender of its INVITE transaction's event
//! channel (`Transaction::tu_sender`) and keeps it for its whole life: as the answering
//! side, it sends its 18x, 2xx or error response, and passes the ACK on, through it. A
//! tokio channel takes its first block of 32 events when it is made, about 11 KiB for
//! these events, and frees it only when the last sender is gone. So each leg of a live
//! call kept those 11 KiB long after its INVITE transaction had ended (once the ACK came,
//! or 32 s after the 2xx for an INVITE Switchboard sent): nearly half of a call's heap.
//!
//! Here the dialogs are made with a sender of one channel that they all share:
//! - a caller's dialog ([`Invites::answer`]) is made while its transaction's sender is
//!   swapped for the shared one, and [`forward`] passes what the dialog sends on to the
//!   transaction, found by the request it belongs to, for as long as the transaction is
//!   listed (the returned [`Listed`] lists it);
//! - a phone's dialog ([`Invites::call_phone`]) is put together here as
//!   `DialogLayer::do_invite_async` does it, with the shared sender; as the calling side
//!   it never sends anything through it. The dialog layer cannot list a dialog made
//!   outside it, so the confirmed ones are listed here ([`Invites::find`]) and taken out
//!   with the layer's ([`Invites::remove`]).
//!
//! Of the calls Switchboard makes, only those to registered phones are made here: they go
//! straight to the phone, so no proxy can fork them. Calls through a trunk keep the
//! layer's `do_invite_async`, which also ends the extra branches of a forked 2xx. A
//! caller's INVITE without a From tag keeps the layer's own way too: nothing would find
//! its transaction.
//!
//! Architecture invariant: everything a dialog sends through the shared channel reaches
//! its own transaction while it lasts, or nothing (after the transaction ended, as with
//! its own channel), and no transaction stays listed after it ended.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rsipstack::dialog::DialogId;
use rsipstack::dialog::dialog::{DialogInner, DialogState, DialogStateSender};
use rsipstack::dialog::dialog_layer::DialogLayer;
use rsipstack::dialog::invitation::{InviteAsyncResult, InviteOption};
use rsipstack::dialog::invite_dialog::InviteDialog;
use rsipstack::platform::JoinHandle;
use rsipstack::sip::{Header, HeadersExt, Request, SipMessage, StatusCodeKind};
use rsipstack::transaction::key::{TransactionKey, TransactionRole};
use rsipstack::transaction::transaction::{Transaction, TransactionEvent, TransactionEventSender};
use tokio::sync::mpsc::UnboundedReceiver;

/// What identifies an INVITE transaction among the events its dialog sends: the Call-ID,
/// the From tag and the CSeq number, which its responses and its ACK carry alike.
type Route = (String, String, u32);

/// The callers' transactions listed, by route.
type Routes = Arc<Mutex<HashMap<Route, TransactionEventSender>>>;

/// The route of a request or response.
fn route(message: &impl HeadersExt) -> Option<Route> {
    let call_id = message.call_id_header().ok()?.value().to_string();
    let tag = message.from_header().ok()?.tag().ok()??.value().to_string();
    let seq = message.cseq_header().ok()?.seq().ok()?;
    Some((call_id, tag, seq))
}

/// The shared channel's sender, the transactions its events go to, and the phones'
/// confirmed dialogs.
pub(crate) struct Invites {
    sender: TransactionEventSender,
    routes: Routes,
    phones: Mutex<HashMap<String, InviteDialog>>,
}

/// A caller's INVITE transaction, listed for its dialog's events until this is dropped
/// (when the transaction has ended).
pub(crate) struct Listed {
    route: Option<Route>,
    routes: Routes,
}

impl Drop for Listed {
    fn drop(&mut self) {
        if let Some(route) = &self.route {
            self.routes.lock().expect("not poisoned").remove(route);
        }
    }
}

impl Invites {
    /// The shared channel; its receiving end goes to [`forward`].
    pub fn new() -> (Invites, UnboundedReceiver<TransactionEvent>) {
        let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
        let invites = Invites {
            sender,
            routes: Arc::default(),
            phones: Mutex::default(),
        };
        (invites, receiver)
    }

    /// The dialog of a caller's INVITE (`tx`), with the transaction listed for it (see
    /// [`Listed`]).
    pub fn answer(
        &self,
        dialogs: &DialogLayer,
        tx: &mut Transaction,
        states: DialogStateSender,
    ) -> Result<(InviteDialog, Listed), String> {
        let route = route(&tx.original);
        let made = match &route {
            Some(route) => {
                let own = std::mem::replace(&mut tx.tu_sender, self.sender.clone());
                let made = dialogs.get_or_create_server_invite(tx, states, None, None);
                tx.tu_sender = own;
                if made.is_ok() {
                    self.routes
                        .lock()
                        .expect("not poisoned")
                        .insert(route.clone(), tx.tu_sender.clone());
                }
                made
            }
            // No From tag (an RFC 2543 peer): nothing to find the transaction by, so the
            // dialog keeps the transaction's own sender, as the layer makes it.
            None => dialogs.get_or_create_server_invite(tx, states, None, None),
        };
        let dialog = made.map_err(|e| e.to_string())?;
        let listed = Listed {
            route,
            routes: Arc::clone(&self.routes),
        };
        Ok((dialog, listed))
    }

    /// Calls a registered phone, as `DialogLayer::do_invite_async` does (see the module's
    /// documentation): the dialog, and the INVITE's final answer to come. Once answered,
    /// the transaction is drained until it ends (32 s on, re-ACKing a repeated 2xx), and
    /// the dialog is listed here until [`Invites::remove`].
    pub fn call_phone(
        self: &Arc<Self>,
        dialogs: &DialogLayer,
        opt: InviteOption,
        states: DialogStateSender,
    ) -> Result<(InviteDialog, JoinHandle<InviteAsyncResult>), String> {
        let text = |e: rsipstack::Error| e.to_string();
        let mut request = dialogs.make_invite_request(&opt).map_err(text)?;
        request.body = opt.offer.unwrap_or_default();
        request
            .headers
            .unique_push(Header::ContentLength((request.body.len() as u32).into()));
        let key = TransactionKey::from_request(&request, TransactionRole::Client).map_err(text)?;
        let mut tx = Transaction::new_client(key, request.clone(), dialogs.endpoint.clone(), None);
        tx.destination = opt.destination;
        let id = DialogId::try_from(&tx).map_err(text)?;
        let local_contact = contact(&request).or(Some(opt.contact));
        let inner = DialogInner::new(
            TransactionRole::Client,
            id,
            request,
            dialogs.endpoint.clone(),
            states,
            opt.credential,
            local_contact,
            self.sender.clone(),
        )
        .map_err(text)?;
        if let Some(destination) = &tx.destination {
            *inner.remote_uri.lock() = destination.clone().into();
        }
        let dialog = InviteDialog::from_inner(Arc::new(inner));
        let invites = Arc::clone(self);
        let calling = dialog.clone();
        let answer = tokio::spawn(async move {
            let result = calling.process_invite(&mut tx).await;
            if let Ok((id, Some(response))) = &result
                && response.status_code.kind() == StatusCodeKind::Successful
            {
                // A cancelled INVITE's 2xx was ended with a BYE: nothing to list.
                if !matches!(calling.state(), DialogState::Terminated(..)) {
                    invites
                        .phones
                        .lock()
                        .expect("not poisoned")
                        .insert(id.to_string(), calling);
                }
                tokio::spawn(async move { while tx.receive().await.is_some() {} });
            }
            result
        });
        Ok((dialog, answer))
    }

    /// The listed phone dialog an in-dialog request belongs to.
    pub fn find(&self, tx: &Transaction) -> Option<InviteDialog> {
        let id = DialogId::try_from(tx).ok()?;
        self.phones
            .lock()
            .expect("not poisoned")
            .get(&id.to_string())
            .cloned()
    }

    /// Takes a dialog out of the layer and out of this list.
    pub fn remove(&self, dialogs: &DialogLayer, id: &DialogId) {
        dialogs.remove_dialog(id);
        self.phones
            .lock()
            .expect("not poisoned")
            .remove(&id.to_string());
    }

    /// Phone dialogs listed, and caller transactions listed (for leak checks).
    pub fn listed(&self) -> (usize, usize) {
        let phones = self.phones.lock().expect("not poisoned").len();
        let routes = self.routes.lock().expect("not poisoned").len();
        (phones, routes)
    }
}

/// The Contact of a request, as a URI.
fn contact(request: &Request) -> Option<rsipstack::sip::Uri> {
    use rsipstack::sip::headers::ToTypedHeader;
    let header = request.contact_header().ok()?;
    header.typed().ok().map(|c| c.uri)
}

/// Passes each event the dialogs send through the shared channel on to the transaction it
/// belongs to, if that is still listed; runs until the channel closes.
pub(crate) async fn forward(invites: &Invites, mut events: UnboundedReceiver<TransactionEvent>) {
    while let Some(event) = events.recv().await {
        let to = match &event {
            TransactionEvent::Respond(response) => route(response),
            TransactionEvent::Received(SipMessage::Request(request), _) => route(request),
            _ => None,
        };
        let sender = to.and_then(|to| {
            invites
                .routes
                .lock()
                .expect("not poisoned")
                .get(&to)
                .cloned()
        });
        if let Some(sender) = sender {
            let _ = sender.send(event);
        }
    }
}

#[cfg(test)]
mod tests {
    use rsipstack::EndpointBuilder;
    use rsipstack::platform::CancellationToken;
    use rsipstack::sip::StatusCode;
    use rsipstack::transport::TransportLayer;
    use tokio::sync::mpsc::error::TryRecvError;

    use super::*;

    /// A caller's INVITE, or the ACK of its 2xx (a new branch, the same CSeq number).
    fn request(method: &str, branch: &str, seq: u32) -> Request {
        let text = format!(
            "{method} sip:support@127.0.0.1 SIP/2.0\r\n\
             Via: SIP/2.0/UDP 127.0.0.1:5070;branch={branch}\r\n\
             From: <sip:caller@127.0.0.1>;tag=caller-tag\r\n\
             To: <sip:support@127.0.0.1>\r\n\
             Call-ID: call-1@127.0.0.1\r\n\
             CSeq: {seq} {method}\r\n\
             Contact: <sip:caller@127.0.0.1:5070>\r\n\
             Max-Forwards: 70\r\n\
             Content-Length: 0\r\n\r\n"
        );
        match SipMessage::try_from(text.as_str()) {
            Ok(SipMessage::Request(r)) => r,
            other => panic!("not a request: {other:?}"),
        }
    }

    #[test]
    fn an_invite_its_responses_and_its_ack_share_a_route_and_a_reinvite_does_not() {
        let invite = request("INVITE", "z9hG4bK-invite", 1);
        let ok = format!(
            "SIP/2.0 200 OK\r\n{}",
            invite.to_string().split_once("\r\n").unwrap().1
        );
        let Ok(SipMessage::Response(ok)) = SipMessage::try_from(ok.as_str()) else {
            panic!("not a response: {ok}");
        };
        let ack = request("ACK", "z9hG4bK-ack", 1);
        let reinvite = request("INVITE", "z9hG4bK-reinvite", 2);
        let of_invite = route(&invite).expect("a route");
        assert_eq!(route(&ok), Some(of_invite.clone()));
        assert_eq!(route(&ack), Some(of_invite.clone()));
        assert_ne!(route(&reinvite), Some(of_invite));
    }

    /// Waits until the forwarder has taken every event sent before: an ACK of CSeq 9 is
    /// listed for a channel of its own and sent through, and comes out after them.
    async fn forwarded(invites: &Invites) {
        let ack = request("ACK", "z9hG4bK-probe", 9);
        let (probe, mut probed) = tokio::sync::mpsc::unbounded_channel();
        let route = route(&ack).unwrap();
        invites.routes.lock().unwrap().insert(route.clone(), probe);
        let event = TransactionEvent::Received(ack.into(), None);
        invites.sender.send(event).unwrap();
        assert!(probed.recv().await.is_some());
        invites.routes.lock().unwrap().remove(&route);
    }

    /// The caller's dialog does not keep its transaction's channel; what the dialog sends
    /// reaches the transaction while it is listed, and nothing once it is not.
    #[tokio::test]
    async fn a_callers_dialog_answers_through_its_transaction_without_keeping_its_channel() {
        let cancel = CancellationToken::new();
        let endpoint = EndpointBuilder::new()
            .with_transport_layer(TransportLayer::new(cancel.clone()))
            .build();
        let dialogs = DialogLayer::new(endpoint.inner.clone());
        let (states, _state_events) = dialogs.new_dialog_state_channel();
        let invite = request("INVITE", "z9hG4bK-invite", 1);
        let key = TransactionKey::from_request(&invite, TransactionRole::Server).unwrap();
        let mut tx = Transaction::new_server(key, invite, endpoint.inner.clone(), None);
        // The transaction and the endpoint's table hold its channel.
        assert_eq!(tx.tu_sender.strong_count(), 2);

        let (invites, events) = Invites::new();
        let invites = Arc::new(invites);
        let forwarding = Arc::clone(&invites);
        let forwarder = tokio::spawn(async move { forward(&forwarding, events).await });
        let (dialog, listed) = invites.answer(&dialogs, &mut tx, states).unwrap();
        // One more for the listing, none for the dialog (made by the layer alone, the
        // dialog keeps one as long as it lasts).
        assert_eq!(tx.tu_sender.strong_count(), 3);
        assert_eq!(invites.listed(), (0, 1));

        dialog.ringing(None, None).unwrap();
        forwarded(&invites).await;
        match tx.tu_receiver.try_recv() {
            Ok(TransactionEvent::Respond(r)) => assert_eq!(r.status_code, StatusCode::Ringing),
            _ => panic!("the 180 did not reach the transaction"),
        }

        drop(listed);
        assert_eq!(invites.listed(), (0, 0));
        assert_eq!(tx.tu_sender.strong_count(), 2);
        dialog.accept(None, None).unwrap();
        forwarded(&invites).await;
        assert!(matches!(
            tx.tu_receiver.try_recv(),
            Err(TryRecvError::Empty)
        ));
        forwarder.abort();
        cancel.cancel();
    }
}
