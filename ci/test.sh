#!/usr/bin/env bash
# The whole CI job: formatting, lints, the README's test command, and the README's main command.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "joinrace ci: toolchain"
cargo --version
rustc --version

echo "joinrace ci: cargo fmt --check"
cargo fmt --all -- --check

echo "joinrace ci: cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings

# The README's test command.
echo "joinrace ci: cargo test --workspace"
cargo test --workspace

# The README's main command.
echo "joinrace ci: main job"
cargo run --release -p scenarios --bin joinrace -- run --all
