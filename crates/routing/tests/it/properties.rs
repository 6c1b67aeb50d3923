//! Property tests placeholder
