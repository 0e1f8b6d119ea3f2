//! Builds the `concord` binary as part of `cargo test`, so the end-to-end crate always
//! drives the current code, and checks that it starts at all.

use std::process::Command;

#[test]
fn the_binary_reports_its_version() {
    let output = Command::new(env!("CARGO_BIN_EXE_concord"))
        .arg("--version")
        .output()
        .expect("run concord");
    assert!(output.status.success());
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("concord "));
}
