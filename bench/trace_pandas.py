#!/usr/bin/env python3
"""The computation of `analyze trace`, written the usual way with pandas and NumPy.

It is the baseline of bench/trace_speed.sh: it reads a training log with
`pandas.read_json(lines=True, chunksize=...)`, computes for every sample record
epsilon = 1 - p_target, gamma_T and gamma_-T, the attraction in the printed, exact and full
forms (the same formulas as src/attraction.rs, vectorised), and per epoch the records,
fractions attracted and repelled, the exact nearest-rank 5th/50th/95th percentiles and the
mean epsilon, plus 500 sampled records per epoch. It writes the per-epoch summary as CSV.

Losses: ce, mse, baikal, or any polynomial loss given by --coefficients C1,CH,CHH,CHY,CY,CYY
(`analyze coeffs --loss SPEC --json` prints them).

Usage: trace_pandas.py LOG.jsonl --out SUMMARY.csv [--coefficients ...] [--chunk 200000]
"""

import argparse
import json
import sys

import numpy as np
import pandas as pd

FORMS = ("printed", "exact", "full")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("log", help="training log in the schema of src/runlog.rs")
    parser.add_argument("--out", required=True, help="per-epoch summary CSV to write")
    parser.add_argument("--coefficients", help="c_1,c_h,c_hh,c_hy,c_y,c_yy of a polynomial loss")
    parser.add_argument("--chunk", type=int, default=200_000, help="lines per pandas chunk")
    parser.add_argument("--sample", type=int, default=500, help="records sampled per epoch")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sampling")
    return parser.parse_args()


def gamma_function(loss, coefficients):
    """Return gamma(h, y) for arrays h and y."""
    if coefficients is not None:
        c1, ch, chh, chy, cy, cyy = (float(c) for c in coefficients.split(","))
        return lambda h, y: c1 + ch * h + chh * h * h + chy * h * y + cy * y + cyy * y * y
    if loss == "ce":
        return lambda h, y: y / h
    if loss == "mse":
        return lambda h, y: 2 * y - 2 * h
    if loss == "baikal":
        return lambda h, y: 1 / h + y / (h * h)
    sys.exit(f"loss {loss!r} needs --coefficients (see `analyze coeffs --loss {loss} --json`)")


def target_change(epsilon, df_target, df_non_target):
    """Change of the target probability of a two-level output, without overflow."""
    d = df_non_target - df_target
    keep = 1.0 - epsilon
    small = np.exp(-np.abs(d))
    shrink = np.expm1(-np.abs(d))
    rising = epsilon * keep * shrink / (keep * small + epsilon)
    falling = -epsilon * keep * shrink / (keep + epsilon * small)
    return np.where(d > 0, rising, falling)


def two_level(gamma_t, gamma_nt, epsilon, n):
    """Printed and exact attraction under equal non-target probabilities."""
    spread = epsilon * (1 - epsilon)
    gap = gamma_t - gamma_nt
    exact = target_change(epsilon, spread * gap, -spread * gap / (n - 1))
    m = n - 1
    printed_t = epsilon * (epsilon - 1) * (gamma_nt - gamma_t)
    printed_nt = (
        epsilon * (epsilon - 1) * gamma_t * m + epsilon * gamma_nt * (epsilon * (n - 3) + m)
    ) / (m * m)
    printed = target_change(epsilon, printed_t, printed_nt)
    inside = (epsilon > 0) & (epsilon < 1)
    return np.where(inside, printed, 0.0), np.where(inside, exact, 0.0)


def full_attraction(probs, gammas, labels):
    """First-principles attraction for whole softmax vectors."""
    rows = np.arange(len(labels))
    reference = probs.argmax(axis=1)
    gamma_reference = gammas[rows, reference][:, None]
    offset = (probs * (gammas - gamma_reference)).sum(axis=1, keepdims=True)
    steps = probs * ((gammas - gamma_reference) - offset)
    top = steps.max(axis=1, keepdims=True)
    target_step = steps[rows, labels][:, None]
    gap = target_step - steps
    rising = probs * np.exp(target_step - top) * -np.expm1(-np.abs(gap))
    falling = probs * np.exp(steps - top) * np.expm1(-np.abs(gap))
    terms = np.where(gap > 0, rising, falling)
    terms[rows, labels] = 0.0
    numerator = terms.sum(axis=1)
    denominator = (probs * np.exp(steps - top)).sum(axis=1)
    return probs[rows, labels] * numerator / denominator


def main():
    args = parse_args()
    with open(args.log, encoding="utf-8") as log:
        header = json.loads(log.readline())["header"]
    if header["schema"] != 1:
        sys.exit(f"unsupported schema version {header['schema']}")
    n = header["classes"]
    gamma = gamma_function(header["loss"], args.coefficients)

    per_epoch = {}
    reader = pd.read_json(args.log, lines=True, chunksize=args.chunk)
    for frame in reader:
        if "epoch" not in frame:
            continue
        frame = frame[frame["epoch"].notna()]
        probs = np.array(frame["probs"].tolist(), dtype=np.float64)
        labels = frame["label"].to_numpy(dtype=np.int64)
        epochs = frame["epoch"].to_numpy(dtype=np.int64)
        rows = np.arange(len(labels))

        epsilon = 1.0 - probs[rows, labels]
        gamma_t = gamma(1.0 - epsilon, 1.0)
        gamma_nt = gamma(epsilon / (n - 1), 0.0)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            printed, exact = two_level(gamma_t, gamma_nt, epsilon, n)
            targets = np.zeros_like(probs)
            targets[rows, labels] = 1.0
            gammas = np.where(probs == 0.0, 0.0, gamma(probs, targets))
            full = full_attraction(probs, gammas, labels)

        for epoch in np.unique(epochs):
            mask = epochs == epoch
            parts = per_epoch.setdefault(int(epoch), {"epsilon": [], **{f: [] for f in FORMS}})
            parts["epsilon"].append(epsilon[mask])
            for form, values in zip(FORMS, (printed, exact, full)):
                parts[form].append(values[mask])

    rng = np.random.default_rng(args.seed)
    rows = []
    for epoch, parts in sorted(per_epoch.items()):
        epsilon = np.concatenate(parts["epsilon"])
        row = {"epoch": epoch, "records": len(epsilon), "mean_epsilon": epsilon.mean()}
        for form in FORMS:
            values = np.concatenate(parts[form])
            finite = values[np.isfinite(values)]
            row[f"{form}_attracted"] = (finite > 0).sum() / len(values)
            row[f"{form}_repelled"] = (finite < 0).sum() / len(values)
            low, mid, high = np.percentile(finite, [5, 50, 95], method="inverted_cdf")
            row[f"{form}_p05"], row[f"{form}_p50"], row[f"{form}_p95"] = low, mid, high
        sampled = rng.choice(len(epsilon), size=min(args.sample, len(epsilon)), replace=False)
        row["sampled"] = len(sampled)
        rows.append(row)
    pd.DataFrame(rows).to_csv(args.out, index=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
