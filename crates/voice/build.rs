//! Builds the kernel media path (`bpf/relay.bpf.c`) with clang, for `kernel.rs` to load.
//! Without clang the crate is built without it, says so, and relays every conversation
//! with its relay threads.

use std::env;
use std::path::PathBuf;
use std::process::Command;

fn main() {
    let source = "bpf/relay.bpf.c";
    println!("cargo::rerun-if-changed={source}");
    println!("cargo::rerun-if-env-changed=CLANG");
    println!("cargo::rustc-check-cfg=cfg(kernel_relay)");
    let Some(out) = env::var_os("OUT_DIR").map(PathBuf::from) else {
        return;
    };
    let object = out.join("relay.bpf.o");
    let clang = env::var("CLANG").unwrap_or_else(|_| "clang".into());
    // The UAPI headers include <asm/types.h>, which Debian keeps under the host's
    // multiarch directory.
    let arch = env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let multiarch = format!("/usr/include/{arch}-linux-gnu");
    let built = Command::new(&clang)
        .args([
            "-O2",
            "-g",
            "-Wall",
            "-Werror",
            "-target",
            "bpf",
            "-idirafter",
        ])
        .arg(&multiarch)
        .arg("-c")
        .arg(source)
        .arg("-o")
        .arg(&object)
        .status();
    match built {
        Ok(status) if status.success() => println!("cargo::rustc-cfg=kernel_relay"),
        Ok(status) => println!(
            "cargo::warning=`{clang}` could not build {source} ({status}): built without the \
             kernel media path"
        ),
        Err(e) => println!(
            "cargo::warning=no `{clang}` ({e}): built without the kernel media path \
             (install clang for it)"
        ),
    }
}
