//! The player: 20 ms frames, gapless queues, music on hold and barge-in.

use std::sync::Arc;

use switchboard_media::player::{FRAME, Player};

fn clip(value: i16, len: usize) -> Arc<[i16]> {
    Arc::from(vec![value; len])
}

#[test]
fn an_idle_player_gives_no_frames() {
    let mut player = Player::new();
    assert!(player.is_idle());
    assert_eq!(player.next_frame(), None);
    player.push(clip(1, 0));
    assert!(player.is_idle(), "empty clips are skipped");
}

#[test]
fn a_clip_plays_in_frames_and_the_last_one_is_padded() {
    let mut player = Player::new();
    player.push(clip(7, 2 * FRAME + 10));
    assert_eq!(player.next_frame(), Some([7; FRAME]));
    assert_eq!(player.next_frame(), Some([7; FRAME]));
    let last = player.next_frame().unwrap();
    assert_eq!(&last[..10], &[7; 10]);
    assert_eq!(&last[10..], &[0; FRAME - 10]);
    assert!(player.is_idle());
    assert_eq!(player.next_frame(), None);
}

#[test]
fn queued_clips_follow_without_a_gap() {
    let mut player = Player::new();
    player.push(clip(1, 100));
    player.push(clip(2, 100));
    assert_eq!(player.len(), 2);
    let first = player.next_frame().unwrap();
    assert_eq!(
        (&first[..100], &first[100..]),
        (&[1; 100][..], &[2; 60][..])
    );
    let second = player.next_frame().unwrap();
    assert_eq!(
        (&second[..40], &second[40..]),
        (&[2; 40][..], &[0; 120][..])
    );
    assert!(player.is_idle());
}

#[test]
fn music_on_hold_loops_until_cleared() {
    let mut player = Player::new();
    let music: Arc<[i16]> = (0..250).collect::<Vec<i16>>().into();
    player.push_looping(music.clone());
    let played: Vec<i16> = (0..100)
        .flat_map(|_| player.next_frame().unwrap())
        .collect();
    for (i, &s) in played.iter().enumerate() {
        assert_eq!(s, music[i % 250], "sample {i}");
    }
    assert!(!player.is_idle());
    player.clear();
    assert!(player.is_idle());
    assert_eq!(player.next_frame(), None);
}

#[test]
fn a_clip_pushed_behind_the_music_plays_after_the_current_pass() {
    let mut player = Player::new();
    player.push_looping(clip(5, 200));
    player.next_frame();
    player.push(clip(9, 100));
    let frame = player.next_frame().unwrap();
    assert_eq!(
        (&frame[..40], &frame[40..140]),
        (&[5; 40][..], &[9; 100][..])
    );
    assert!(player.is_idle(), "the music does not come back by itself");
}

#[test]
fn barge_in_clears_the_queue_mid_clip() {
    let mut player = Player::new();
    player.push(clip(3, 1000));
    player.push(clip(4, 1000));
    player.next_frame();
    player.clear();
    assert!(player.is_idle());
    player.push(clip(8, FRAME));
    assert_eq!(
        player.next_frame(),
        Some([8; FRAME]),
        "a new clip starts at its beginning"
    );
}
