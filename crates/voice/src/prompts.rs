//! Prompt audio: text spoken by espeak-ng (rendered once, cached on disk and in memory)
//! and audio files from the flows' directory, all as 8 kHz mono samples.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};
use switchboard_media::audio::load_wav;

/// 8 kHz mono samples, shared by every call that plays them.
pub type Clip = Arc<[i16]>;

/// Why a prompt cannot be played.
#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    /// The text-to-speech program failed or is missing.
    #[error("text-to-speech failed (is espeak-ng installed?): {0}")]
    Tts(String),
    /// The file is missing, outside the audio directory or not audio Switchboard reads.
    #[error("audio file `{file}`: {why}")]
    File {
        /// The file as the flow named it.
        file: String,
        /// What went wrong.
        why: String,
    },
}

/// Renders and caches prompts.
pub struct Prompts {
    audio_dir: PathBuf,
    cache_dir: PathBuf,
    voice: String,
    memory: Mutex<HashMap<String, Clip>>,
}

/// Most clips kept in memory; past it the memory cache starts again (the disk cache stays).
const MEMORY_CLIPS: usize = 512;

impl Prompts {
    /// Prompts whose files live under `audio_dir` and whose speech is cached in
    /// `cache_dir`, spoken with espeak-ng's `voice`.
    pub fn new(audio_dir: PathBuf, cache_dir: PathBuf, voice: &str) -> Prompts {
        Prompts {
            audio_dir,
            cache_dir,
            voice: voice.to_string(),
            memory: Mutex::new(HashMap::new()),
        }
    }

    fn remembered(&self, key: &str) -> Option<Clip> {
        self.memory.lock().expect("not poisoned").get(key).cloned()
    }

    fn remember(&self, key: String, clip: Clip) -> Clip {
        let mut memory = self.memory.lock().expect("not poisoned");
        if memory.len() >= MEMORY_CLIPS {
            memory.clear();
        }
        memory.insert(key, Arc::clone(&clip));
        clip
    }

    /// `text` spoken.
    pub async fn say(&self, text: &str) -> Result<Clip, PromptError> {
        let key = format!("say:{}:{text}", self.voice);
        if let Some(clip) = self.remembered(&key) {
            return Ok(clip);
        }
        let hash = Sha256::digest(key.as_bytes());
        let name: String = hash[..16].iter().map(|b| format!("{b:02x}")).collect();
        let file = self.cache_dir.join(format!("{name}.wav"));
        if !file.exists() {
            tokio::fs::create_dir_all(&self.cache_dir)
                .await
                .map_err(|e| PromptError::Tts(format!("{}: {e}", self.cache_dir.display())))?;
            let partial = self.cache_dir.join(format!("{name}.partial.wav"));
            let out = tokio::process::Command::new("espeak-ng")
                .arg("-v")
                .arg(&self.voice)
                .arg("-w")
                .arg(&partial)
                .arg("--")
                .arg(text)
                .kill_on_drop(true)
                .output()
                .await
                .map_err(|e| PromptError::Tts(e.to_string()))?;
            if !out.status.success() {
                return Err(PromptError::Tts(
                    String::from_utf8_lossy(&out.stderr).trim().to_string(),
                ));
            }
            tokio::fs::rename(&partial, &file)
                .await
                .map_err(|e| PromptError::Tts(e.to_string()))?;
        }
        let bytes = tokio::fs::read(&file)
            .await
            .map_err(|e| PromptError::Tts(e.to_string()))?;
        let samples = load_wav(&bytes).map_err(|e| PromptError::Tts(e.to_string()))?;
        Ok(self.remember(key, samples.into()))
    }

    /// The audio file `file`, relative to the audio directory.
    pub async fn play(&self, file: &str) -> Result<Clip, PromptError> {
        let key = format!("file:{file}");
        if let Some(clip) = self.remembered(&key) {
            return Ok(clip);
        }
        let err = |why: String| PromptError::File {
            file: file.to_string(),
            why,
        };
        let relative = Path::new(file);
        if !relative
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
        {
            return Err(err("must be a path inside the flows' directory".into()));
        }
        let bytes = tokio::fs::read(self.audio_dir.join(relative))
            .await
            .map_err(|e| err(e.to_string()))?;
        let samples = load_wav(&bytes).map_err(|e| err(e.to_string()))?;
        Ok(self.remember(key, samples.into()))
    }
}
