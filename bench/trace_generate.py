#!/usr/bin/env python3
"""Write a synthetic training log in the schema of src/runlog.rs, for the trace benchmark.

The log has one header line, then for each epoch the sample records of that epoch and one
summary line. Probabilities are the softmax of random logits whose target logit grows with
the epoch, written with 9 significant digits (the precision of an f32 softmax output).

Usage: trace_generate.py OUT.jsonl [--records 2000000] [--classes 10] [--epochs 20]
                         [--loss taylorglo-cifar10] [--seed 0]
"""

import argparse
import json
import sys

import numpy as np


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="path of the log to write")
    parser.add_argument("--records", type=int, default=2_000_000, help="sample records in all")
    parser.add_argument("--classes", type=int, default=10, help="number of classes n (>= 2)")
    parser.add_argument("--epochs", type=int, default=20, help="epochs the records are spread over")
    parser.add_argument("--loss", default="taylorglo-cifar10", help="loss spec for the header")
    parser.add_argument("--seed", type=int, default=0, help="seed of numpy's PCG64 generator")
    args = parser.parse_args()
    if args.classes < 2:
        parser.error(f"invalid --classes {args.classes}: need at least 2")
    if args.epochs < 1 or args.records < args.epochs:
        parser.error(f"invalid --epochs {args.epochs}: need 1 <= epochs <= records")
    return args


def header_line(args, per_epoch):
    header = {
        "schema": 1,
        "tool": "trace_generate.py",
        "loss": args.loss,
        "classes": args.classes,
        "dataset": {"name": "synthetic", "train": per_epoch},
        "model": "none",
        "seed": args.seed,
        "hyperparameters": {"epochs": args.epochs},
    }
    return json.dumps({"header": header})


def summary_line(epoch):
    summary = {
        "epoch": epoch,
        "train_loss": 0.0,
        "train_accuracy": 0.0,
        "validation_accuracy": None,
        "test_accuracy": 0.0,
        "learning_rate": 0.01,
        "seconds": 0.0,
    }
    return json.dumps({"summary": summary})


def epoch_lines(rng, epoch, epochs, count, classes):
    labels = rng.integers(0, classes, size=count)
    indices = rng.permutation(count)
    logits = rng.normal(0.0, 1.5, size=(count, classes))
    logits[np.arange(count), labels] += 6.0 * epoch / epochs
    logits -= logits.max(axis=1, keepdims=True)
    probs = np.exp(logits)
    probs /= probs.sum(axis=1, keepdims=True)
    for index, label, row in zip(indices.tolist(), labels.tolist(), probs.tolist()):
        numbers = ",".join("%.9g" % p for p in row)
        yield f'{{"epoch":{epoch},"index":{index},"label":{label},"probs":[{numbers}]}}'


def main():
    args = parse_args()
    rng = np.random.default_rng(args.seed)
    per_epoch = args.records // args.epochs
    with open(args.out, "w", encoding="ascii") as out:
        out.write(header_line(args, per_epoch) + "\n")
        for epoch in range(1, args.epochs + 1):
            # The last epoch takes the remainder so that the total is exactly --records.
            count = per_epoch
            if epoch == args.epochs:
                count += args.records - per_epoch * args.epochs
            out.write("\n".join(epoch_lines(rng, epoch, args.epochs, count, args.classes)))
            out.write("\n" + summary_line(epoch) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
