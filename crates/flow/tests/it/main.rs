//! Integration tests of the flow language, one binary with modules by area.

mod diagnostics;
mod properties;
mod schema;
mod stats;
mod transcripts;

use std::path::{Path, PathBuf};

use switchboard_flow::check::{Flow, check};

/// The repository's `examples/flows` directory.
pub(crate) fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/flows")
}

/// Loads an example flow, which must have no diagnostics at all.
pub(crate) fn example(name: &str) -> Flow {
    let path = examples().join(format!("{name}.yaml"));
    let text = std::fs::read_to_string(&path).expect("example exists");
    let checked = check(&text, path.parent());
    assert!(
        checked.diagnostics.is_empty(),
        "{name}: {:?}",
        checked.diagnostics
    );
    checked.flow.expect("a checked flow")
}

/// Every example flow, by id: the library subflows are called from (loaded once per
/// test thread).
pub(crate) fn library() -> switchboard_flow::interp::Library {
    thread_local! {
        static LIBRARY: switchboard_flow::interp::Library = load_library();
    }
    LIBRARY.with(Clone::clone)
}

fn load_library() -> switchboard_flow::interp::Library {
    let mut library = switchboard_flow::interp::Library::new();
    for entry in std::fs::read_dir(examples()).expect("examples").flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let name = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default()
                .to_string();
            let flow = example(&name);
            library.insert(flow.id.clone(), std::sync::Arc::new(flow));
        }
    }
    library
}
