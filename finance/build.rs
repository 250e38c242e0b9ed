//! Compiles the stand-in Finance SDK (`standin/standin.c`) into a shared object in `OUT_DIR`,
//! which `standin::STANDIN_SO` embeds: the binary carries it, so `chatvault demo` needs no
//! extra build step. `cc` finds the C compiler; it builds static archives only, so the
//! `-shared` link is done with the compiler it found.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=standin/standin.c");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let so = out.join("libfinance_standin.so");
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if target_os != "linux" {
        // The SDK exists for Linux and Windows only; elsewhere the stand-in is empty.
        std::fs::write(&so, b"").expect("write placeholder");
        return;
    }
    let compiler = cc::Build::new().opt_level(2).get_compiler();
    let status = compiler
        .to_command()
        .args(["-shared", "-fPIC", "-Wall", "-Werror", "-o"])
        .arg(&so)
        .arg("standin/standin.c")
        .arg("-ldl")
        .status()
        .expect("run the C compiler");
    assert!(status.success(), "compiling the stand-in Finance SDK failed");
}
