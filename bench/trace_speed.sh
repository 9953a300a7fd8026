#!/usr/bin/env bash
# Throughput of `analyze trace` against a pandas + NumPy script doing the same computation
# and against the I/O floor (`cat FILE > /dev/null`), on one synthetic log.
#
# Usage: bench/trace_speed.sh [WORK_DIR]
#   WORK_DIR keeps the generated log between runs (default: $TMPDIR/lossdyn-trace-bench).
#   Environment: RECORDS (default 2000000), CLASSES (10), RUNS (best of, default 5).
#
# The log is read once before timing so that every contender reads it from the page cache.
# Times are wall-clock seconds of whole processes (start-up included), best of RUNS; the
# pandas script runs once because it takes much longer. The script also checks that both
# programs report the same per-epoch fractions and percentiles.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
work="${1:-${TMPDIR:-/tmp}/lossdyn-trace-bench}"
records="${RECORDS:-2000000}"
classes="${CLASSES:-10}"
runs="${RUNS:-5}"
loss="taylorglo-cifar10"
mkdir -p "$work"
log="$work/log-$records-$classes.jsonl"

python3 -c 'import pandas, numpy' 2>/dev/null || {
    echo "pandas and numpy are missing: pip install pandas numpy" >&2
    exit 2
}

echo "== build"
(cd "$root" && cargo build --release --quiet)
analyze="$root/target/release/analyze"

if [[ ! -s "$log" ]]; then
    echo "== generate $log"
    python3 "$root/bench/trace_generate.py" "$log" --records "$records" --classes "$classes" \
        --loss "$loss"
fi
bytes=$(stat -L -c %s "$log")
cat "$log" > /dev/null

# Prints the wall-clock seconds of the command, best of $1 runs.
best_of() {
    local count=$1
    shift
    local best=""
    for _ in $(seq "$count"); do
        local start end seconds
        start=$(date +%s%N)
        "$@" > /dev/null
        end=$(date +%s%N)
        seconds=$(awk -v ns=$((end - start)) 'BEGIN { printf "%.4f", ns / 1e9 }')
        if [[ -z "$best" ]] || awk -v a="$seconds" -v b="$best" 'BEGIN { exit !(a < b) }'; then
            best=$seconds
        fi
    done
    echo "$best"
}

coefficients=$("$analyze" coeffs --loss "$loss" --json | python3 -c \
    'import json, sys; d = json.load(sys.stdin); print(",".join(str(d[k]) for k in ("c_1", "c_h", "c_hh", "c_hy", "c_y", "c_yy")))')

echo "== time"
load_before=$(uptime | sed 's/.*load average: //')
cat_seconds=$(best_of $((runs + 2)) cat "$log")
trace_seconds=$(best_of "$runs" "$analyze" trace "$log" --no-figure --csv "$work/trace.csv")
pandas_seconds=$(best_of 1 python3 "$root/bench/trace_pandas.py" "$log" \
    --out "$work/pandas.csv" --coefficients="$coefficients")

echo "== compare outputs"
python3 - "$work/trace.csv" "$work/pandas.csv" <<'EOF'
import sys
import pandas as pd
ours, theirs = (pd.read_csv(path) for path in sys.argv[1:3])
assert list(ours["epoch"]) == list(theirs["epoch"]), "epochs differ"
assert list(ours["records"]) == list(theirs["records"]), "record counts differ"
worst = 0.0
for column in theirs.columns:
    if column not in ours.columns or column in ("epoch", "records"):
        continue
    if column.endswith(("_attracted", "_repelled")):
        assert (ours[column] == theirs[column]).all(), f"{column} differs"
        continue
    relative = ((ours[column] - theirs[column]).abs() / theirs[column].abs()).max()
    worst = max(worst, relative)
print(f"fractions identical; largest relative difference of percentiles and means: {worst:.2e}")
EOF

echo "== results"
mb=$(awk -v b="$bytes" 'BEGIN { printf "%.0f", b / 1e6 }')
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "load before timing: $load_before; after: $(uptime | sed 's/.*load average: //')"
echo "versions: $(rustc --version), $(python3 --version), pandas $(python3 -c 'import pandas; print(pandas.__version__)'), numpy $(python3 -c 'import numpy; print(numpy.__version__)')"
echo "log: $log, $records records, $classes classes, $mb MB"
awk -v b="$bytes" -v c="$cat_seconds" -v t="$trace_seconds" -v p="$pandas_seconds" 'BEGIN {
    printf "%-30s %9s %10s\n", "contender", "seconds", "MB/s"
    printf "%-30s %9.3f %10.0f\n", "cat FILE > /dev/null", c, b / c / 1e6
    printf "%-30s %9.3f %10.0f\n", "analyze trace", t, b / t / 1e6
    printf "%-30s %9.3f %10.0f\n", "pandas + NumPy", p, b / p / 1e6
    printf "analyze trace / pandas throughput: %.1fx (target >= 20)\n", p / t
    printf "analyze trace / I/O floor throughput: %.3f (target >= 0.5)\n", c / t
}'
