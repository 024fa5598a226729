#!/usr/bin/env bash
# Fuzzes the heap snapshot reader (crates/analyzer/fuzz, target read_snapshot: any bytes into
# read_snapshot_from, and the Summary analysis on whatever it accepts) for a bounded time with
# cargo-fuzz (libFuzzer, AddressSanitizer, debug assertions and overflow checks on).
#
#   bench/fuzz-analyzer.sh [SECONDS] [LIBFUZZER OPTIONS...]     (SECONDS: default 60)
#
# Needs a nightly toolchain (rustup); installs cargo-fuzz from crates.io if it is missing. The
# hand-written seeds (fuzz/corpus/read_snapshot) are only read: what the fuzzer finds goes to
# fuzz/corpus-work/read_snapshot (not committed), which later runs start from. A crash, hang
# (over 10 s) or out-of-memory (over 2 GB) stops the run, leaves the input in
# fuzz/artifacts/read_snapshot/, and the script exits non-zero. Each one is a bug: minimize it
# (the command is printed), and add it to fuzz/regressions/, which `cargo test` replays
# (tests/mutations.rs).
set -euo pipefail

seconds=${1:-60}
shift || true
if ! [[ $seconds =~ ^[0-9]+$ ]] || [ "$seconds" -eq 0 ]; then
  echo "usage: $0 [SECONDS] [LIBFUZZER OPTIONS...]   (SECONDS: a whole number > 0)" >&2
  exit 2
fi

cd "$(dirname "$0")/../crates/analyzer"

if ! command -v rustup >/dev/null 2>&1; then
  echo "fuzz-analyzer: rustup is not installed; cargo-fuzz needs a nightly Rust toolchain through rustup" >&2
  exit 2
fi
if ! rustup toolchain list | grep -q '^nightly'; then
  echo "fuzz-analyzer: no nightly Rust toolchain is installed, and cargo-fuzz needs one" >&2
  echo "  (sanitizer and coverage flags are nightly-only): rustup toolchain install nightly" >&2
  exit 2
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz-analyzer: installing cargo-fuzz (cargo install cargo-fuzz --locked)"
  cargo install cargo-fuzz --locked
fi

work=fuzz/corpus-work/read_snapshot
mkdir -p "$work" fuzz/artifacts/read_snapshot
log=$(mktemp "${TMPDIR:-/tmp}/fuzz-analyzer.XXXXXX.log")
echo "fuzz-analyzer: $(cargo +nightly --version), $(cargo fuzz --version); ${seconds} s; log in $log"

set +e
cargo +nightly fuzz run read_snapshot "$work" fuzz/corpus/read_snapshot -- \
  -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
  -dict=fuzz/read_snapshot.dict -print_final_stats=1 "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e

echo
echo "== fuzz-analyzer result =="
stat() { sed -n "s/^stat::$1: *//p" "$log" | tail -1; }
last=$(grep -E '^#[0-9]+[[:space:]]+(DONE|pulse|NEW|REDUCE|INITED)' "$log" | tail -1 || true)
echo "time limit:      ${seconds} s"
echo "executions:      $(stat number_of_executed_units) ($(stat average_exec_per_sec)/s)"
echo "coverage:        $(sed -n 's/.* cov: \([0-9]*\) ft: \([0-9]*\).*/\1 edges, \2 features/p' <<<"$last")"
echo "corpus:          $(find "$work" -type f | wc -l) inputs in crates/analyzer/$work"
echo "peak RSS:        $(stat peak_rss_mb) MB"
if [ "$status" -eq 0 ]; then
  echo "result:          no crash, hang or out-of-memory"
else
  echo "result:          FAILED (exit $status): a crash, hang (timeout) or out-of-memory; see above"
  grep -E 'Test unit written to|^(==[0-9]+==)?ERROR|panicked at' "$log" | head -5 || true
  echo "Minimize with:   (cd crates/analyzer && cargo +nightly fuzz tmin read_snapshot ARTIFACT)"
  echo "then copy the minimized input into crates/analyzer/fuzz/regressions/ (cargo test replays it)."
fi
exit "$status"
