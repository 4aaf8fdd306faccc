//! The `phoneless` binary: everything lives in the library.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    phoneless::cli::main().await
}
