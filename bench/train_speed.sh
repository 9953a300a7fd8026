#!/usr/bin/env bash
# Training speed of `analyze train` against PyTorch on the CPU, in one run.
#
# Both train the MLP and the small CNN on the bundled Fashion-MNIST subset (6,000 training
# images, no validation split) with batch 128, SGD with momentum 0.9 and the same thread
# count, for EPOCHS epochs (47 steps each). AllCNN-C, about 100 times slower per sample,
# trains on the first ALLCNN_LIMIT images for ALLCNN_EPOCHS epochs. The first epoch counts as
# warm-up; samples per second come from the later epochs' training time (steps only, no
# evaluation). The tool then trains again with every sample's softmax output logged, which
# gives the share of epoch time spent logging.
#
# Usage: bench/train_speed.sh
#   defaults: EPOCHS=6 ALLCNN_EPOCHS=3 ALLCNN_LIMIT=1280 THREADS=2 PYTHON=python3
# Needs: a Rust toolchain, and PyTorch for $PYTHON (pip install torch numpy).
set -euo pipefail
cd "$(dirname "$0")/.."

EPOCHS=${EPOCHS:-6}
ALLCNN_EPOCHS=${ALLCNN_EPOCHS:-3}
ALLCNN_LIMIT=${ALLCNN_LIMIT:-1280}
THREADS=${THREADS:-2}
PYTHON=${PYTHON:-python3}

cargo build --release --quiet
export RAYON_NUM_THREADS=$THREADS OMP_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for model in mlp cnn allcnn-c; do
    if [ "$model" = allcnn-c ]; then
        sizes=(--epochs "$ALLCNN_EPOCHS" --train-limit "$ALLCNN_LIMIT")
    else
        sizes=(--epochs "$EPOCHS")
    fi
    common=(train --model "$model" "${sizes[@]}" --validation 0 --json)
    target/release/analyze "${common[@]}" > "$work/$model-plain.json"
    target/release/analyze "${common[@]}" --log "$work/$model.jsonl" > "$work/$model-logged.json"
    "$PYTHON" bench/torch_train.py --model "$model" "${sizes[@]}" --threads "$THREADS" \
        > "$work/$model-torch.json"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$work" <<'EOF'
import json, pathlib, sys

work = pathlib.Path(sys.argv[1])

def epochs(path):
    """Epoch events of an `analyze train --json` run, without the warm-up epoch."""
    events = [json.loads(line) for line in path.read_text().splitlines()]
    reports = [e for e in events if e["event"] == "epoch"]
    return reports[1:] if len(reports) > 1 else reports

print(f"{'model':8} {'lossdyn/s':>10} {'pytorch/s':>10} {'ratio':>6} "
      f"{'log share':>9} {'log slowdown':>12}")
for model in ["mlp", "cnn", "allcnn-c"]:
    plain = epochs(work / f"{model}-plain.json")
    logged = epochs(work / f"{model}-logged.json")
    torch = json.loads((work / f"{model}-torch.json").read_text())
    samples = torch["samples_per_epoch"]
    ours = samples * len(plain) / sum(e["train_seconds"] for e in plain)
    theirs = torch["samples_per_second"]
    # Share of the logged run's epoch time that the training thread spent on the log.
    share = sum(e["log_seconds"] for e in logged) / sum(e["summary"]["seconds"] for e in logged)
    # Extra epoch time of the logged run over the run without a log.
    plain_epoch = sum(e["summary"]["seconds"] for e in plain) / len(plain)
    logged_epoch = sum(e["summary"]["seconds"] for e in logged) / len(logged)
    slowdown = logged_epoch / plain_epoch - 1
    print(f"{model:8} {ours:10.0f} {theirs:10.0f} {ours / theirs:6.2f} "
          f"{share:9.1%} {slowdown:12.1%}")
print(f"({torch['tool']}, {torch['threads']} threads; ratio = lossdyn / pytorch; "
      "log share = training-thread time on the log / epoch time)")
EOF
