//! A queue of 8 kHz clips played out in 20 ms frames: prompts, queued announcements and
//! music on hold.

use std::collections::VecDeque;
use std::sync::Arc;

/// Samples in one 20 ms frame at 8 kHz.
pub const FRAME: usize = 160;

/// One queued clip.
#[derive(Debug, Clone)]
struct Entry {
    clip: Arc<[i16]>,
    looping: bool,
}

/// Plays queued clips back to back, one 20 ms frame per call to
/// [`next_frame`](Self::next_frame).
///
/// Clips follow each other without a gap (a frame may end one clip and start the next);
/// only the frame in which the whole queue runs out is padded with silence. A looping
/// clip (music on hold) repeats while it is the last clip in the queue: push another clip
/// behind it and it finishes its current pass, then the queue moves on; call
/// [`clear`](Self::clear) to stop everything at once (barge-in, agent answered). Empty
/// clips are skipped.
///
/// ```
/// use std::sync::Arc;
/// use switchboard_media::player::Player;
///
/// let mut player = Player::new();
/// player.push(Arc::from(vec![1000i16; 200]));
/// let first = player.next_frame().expect("200 samples make two frames");
/// assert_eq!(first[159], 1000);
/// let second = player.next_frame().expect("the rest, padded");
/// assert_eq!((second[39], second[40]), (1000, 0));
/// assert!(player.next_frame().is_none() && player.is_idle());
/// ```
#[derive(Debug, Clone, Default)]
pub struct Player {
    queue: VecDeque<Entry>,
    /// Position in the clip at the front of the queue.
    position: usize,
}

impl Player {
    /// An idle player.
    pub fn new() -> Self {
        Self::default()
    }

    /// Queues a clip to play once.
    pub fn push(&mut self, clip: Arc<[i16]>) {
        self.enqueue(clip, false);
    }

    /// Queues a clip that repeats while it is the last one queued (music on hold).
    pub fn push_looping(&mut self, clip: Arc<[i16]>) {
        self.enqueue(clip, true);
    }

    fn enqueue(&mut self, clip: Arc<[i16]>, looping: bool) {
        if !clip.is_empty() {
            self.queue.push_back(Entry { clip, looping });
        }
    }

    /// Stops the clip playing and drops every queued one.
    pub fn clear(&mut self) {
        self.queue.clear();
        self.position = 0;
    }

    /// Nothing to play: [`next_frame`](Self::next_frame) returns `None`.
    pub fn is_idle(&self) -> bool {
        self.queue.is_empty()
    }

    /// Clips queued, counting the one playing.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Same as [`is_idle`](Self::is_idle).
    pub fn is_empty(&self) -> bool {
        self.is_idle()
    }

    /// The next 20 ms of audio, or `None` when idle.
    pub fn next_frame(&mut self) -> Option<[i16; FRAME]> {
        if self.queue.is_empty() {
            return None;
        }
        let mut frame = [0i16; FRAME];
        let mut filled = 0;
        while filled < FRAME {
            let Some(entry) = self.queue.front() else {
                break;
            };
            let rest = entry.clip.get(self.position..).unwrap_or(&[]);
            let n = rest.len().min(FRAME - filled);
            frame[filled..filled + n].copy_from_slice(&rest[..n]);
            filled += n;
            self.position += n;
            if self.position >= entry.clip.len() {
                self.position = 0;
                // A looping clip stays while nothing is queued behind it.
                if !(entry.looping && self.queue.len() == 1) {
                    self.queue.pop_front();
                }
            }
        }
        Some(frame)
    }
}
