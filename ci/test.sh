#!/usr/bin/env bash
# The whole CI job: formatting, lints, the README's test command, and the README's main command.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "joinrace ci: toolchain"
cargo --version
rustc --version

# Headless Chromium renders the HTML timeline in a test (Debian's package).
echo "joinrace ci: chromium"
if ! command -v chromium >/dev/null; then
    if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; else sudo apt-get update -qq && sudo apt-get install -y -qq chromium >/dev/null; fi
fi
chromium --version
export JOINRACE_REQUIRE_CHROMIUM=1

echo "joinrace ci: cargo fmt --check"
cargo fmt --all -- --check

echo "joinrace ci: cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings

echo "joinrace ci: cargo doc"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps

# The README's test command.
echo "joinrace ci: cargo test --workspace"
cargo test --workspace

# The README's main command.
echo "joinrace ci: main job"
cargo run --release -p scenarios --bin joinrace -- run --all
