//! Compiles the Yunhu `.proto` schemas with protox (a protobuf compiler in Rust), so a clean
//! machine builds without a system `protoc`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/yunhu.proto");
    let fds = protox::compile(["yunhu.proto"], ["proto"])?;
    prost_build::Config::new().compile_fds(fds)?;
    Ok(())
}
