//! Recordings played back through the API: a real call's recording is streamed as stored,
//! to supervisors and the contact's agent only; a contact without one answers 404, and a
//! stored reference that leads out of the recordings directory is refused.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::Harness;
use crate::voice::{Phone, ada_calls, available, no_calls_left, registered, sip_addr, tone_stream};

/// GET `path` with `token` (if any): status, content type, body.
async fn fetch(h: &Harness, path: &str, token: Option<&str>) -> (StatusCode, String, Vec<u8>) {
    let mut r = h.http.get(format!("{}{path}", h.base));
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    let response = r.send().await.unwrap();
    let status = response.status();
    let kind = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (status, kind, response.bytes().await.unwrap().to_vec())
}

#[tokio::test]
async fn a_call_recording_is_played_back_to_supervisors_and_its_agent_only() {
    let h = Harness::start().await;
    let admin = h.login("admin", "admin").await;
    let mut events = h.events(&admin).await;
    let target = sip_addr(&h);
    // Alice's desk phone answers with a 600 Hz tone; Ada talks with a 1000 Hz one.
    let _phone = Phone::start(target, "alice", "phone", 600.0);
    registered(&mut events, &["alice"]).await;
    available(&h, "alice").await;
    let media = tempfile::tempdir().unwrap();
    let caller = ada_calls(target, "3", 3000, tone_stream(media.path(), 1000.0));
    let connected = events.next_named("contact.connected").await;
    assert_eq!(connected["agent"], "alice", "{connected}");
    let contact = connected["contact"].as_i64().unwrap();
    let ended = events.next_named("contact.ended").await;
    assert_eq!(ended["data"]["reason"], "handled", "{ended}");
    caller.await.unwrap().assert_success("caller");

    // The recording is noted once Alice's leg has closed.
    let mut noted = Value::Null;
    for _ in 0..100 {
        let (_, c) = h.get(&format!("/api/v1/contacts/{contact}"), &admin).await;
        if c["recording"].is_string() {
            noted = c;
            break;
        }
        events.next().await;
    }
    let name = noted["recording"].as_str().expect("a recording is noted");
    let stored = std::fs::read(h.dir.path().join("recordings").join(name)).unwrap();
    assert!(
        stored.len() > 8000 * 4,
        "seconds of audio: {} bytes",
        stored.len()
    );

    // Sam (a supervisor) and Alice (whose call it was) get the file as stored.
    let url = format!("/api/v1/contacts/{contact}/recording");
    let sam = h.login("sam", "demo").await;
    let alice = h.login("alice", "demo").await;
    for (who, token) in [("sam", &sam), ("alice", &alice), ("admin", &admin)] {
        let (status, kind, body) = fetch(&h, &url, Some(token)).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "{who}: {}",
            String::from_utf8_lossy(&body)
        );
        assert_eq!(kind, "audio/wav", "{who}");
        assert!(body == stored, "{who}: the bytes as stored");
    }
    let (_, _, body) = fetch(&h, &url, Some(&sam)).await;
    let wav = hound::WavReader::new(std::io::Cursor::new(body)).unwrap();
    assert_eq!(wav.spec().channels, 2, "caller and agent");
    assert_eq!(wav.spec().sample_rate, 8000);
    // `n` picks one of `recordings` (one here); past the end there is none.
    let (status, _, body) = fetch(&h, &format!("{url}?n=0"), Some(&sam)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body == stored, "recording 0 is the only one");
    let (status, _, body) = fetch(&h, &format!("{url}?n=1"), Some(&sam)).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "{}",
        String::from_utf8_lossy(&body)
    );

    // Bob (another agent) may not listen; nobody may without signing in.
    let bob = h.login("bob", "demo").await;
    let (status, _, body) = fetch(&h, &url, Some(&bob)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let error: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(error["error"]["code"], "forbidden", "{error}");
    assert_eq!(fetch(&h, &url, None).await.0, StatusCode::UNAUTHORIZED);
    no_calls_left(&h).await;
    h.stop().await;
}

#[tokio::test]
async fn no_recording_is_404_and_references_outside_the_recordings_directory_are_refused() {
    let h = Harness::start().await;
    let sam = h.login("sam", "demo").await;
    let alice = h.login("alice", "demo").await;
    let (status, _) = h
        .post(
            "/api/v1/agents/alice/state",
            &alice,
            json!({ "state": "available" }),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    // A chat Alice takes and ends: nothing is recorded.
    let (id, chat, _) = h.chat("support", "+441632960001").await;
    h.say(id, &chat, "0").await;
    let accept = format!("/api/v1/agents/alice/offers/{id}/accept");
    let (status, body) = h.post(&accept, &alice, json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, body) = h
        .post(&format!("/api/v1/contacts/{id}/end"), &alice, json!({}))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let url = format!("/api/v1/contacts/{id}/recording");
    let (status, _, body) = fetch(&h, &url, Some(&sam)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let error: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        error["error"]["message"],
        format!("contact {id} has no recording")
    );
    assert_eq!(
        fetch(&h, "/api/v1/contacts/9999/recording", Some(&sam))
            .await
            .0,
        StatusCode::NOT_FOUND
    );

    // References as a damaged or tampered database could hold them, written through the
    // store: none leads out of the recordings directory, symbolic links included.
    let data = h.dir.path();
    let secret = "not a recording: the data directory's own file";
    std::fs::write(data.join("secret.txt"), secret).unwrap();
    let recordings = data.join("recordings");
    std::fs::create_dir_all(&recordings).unwrap();
    std::os::unix::fs::symlink(data.join("secret.txt"), recordings.join("link.wav")).unwrap();
    let store = h.store().await;
    for bad in [
        "../secret.txt",
        "../switchboard.db",
        "/etc/passwd",
        "link.wav",
        "x/../../secret.txt",
        "",
    ] {
        store.contact_recording(id, bad).await.unwrap();
        let (status, _, body) = fetch(&h, &url, Some(&sam)).await;
        let text = String::from_utf8_lossy(&body);
        assert_eq!(status, StatusCode::FORBIDDEN, "{bad:?}: {text}");
        assert!(!text.contains(secret), "{bad:?}");
    }
    // A plain name whose file is gone is missing, not refused.
    store.contact_recording(id, "gone.wav").await.unwrap();
    let (status, _, body) = fetch(&h, &url, Some(&sam)).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "{}",
        String::from_utf8_lossy(&body)
    );
    // Every stored reference is listed; each index is checked alike.
    let (_, c) = h.get(&format!("/api/v1/contacts/{id}"), &sam).await;
    assert_eq!(c["recordings"].as_array().unwrap().len(), 7, "{c}");
    let (status, _, _) = fetch(&h, &format!("{url}?n=0"), Some(&sam)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    h.stop().await;
}
