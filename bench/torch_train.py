"""Train a network of `analyze train` with PyTorch on the CPU and time it.

The models, the loss computation, the optimizer and the batching match `analyze train`:

* mlp: 784-256-256-10 with ReLU; cnn: 3x3 convolutions with stride 2 and padding 1 to 32 and
  64 channels (ReLU), a 1x1 convolution to the 10 classes, global average pooling;
  allcnn-c: All-CNN-C with dropout 0.2 on the input and 0.5 after each stride-2 convolution.
* softmax, then cross-entropy averaged over classes and batch on the probabilities with the
  same 1e-30 floor, as the Rust code evaluates the loss definitions.
* SGD with momentum 0.9, batch 128, the last batch of an epoch partial, a new shuffle per
  epoch, pixels byte / 255.

Only the training loop is timed; the data are decoded once before it. Prints one JSON object.
"""

import argparse
import gzip
import json
import pathlib
import time

import numpy as np
import torch
from torch import nn


def read_idx(path: pathlib.Path, header_words: int) -> np.ndarray:
    """Return the data bytes of a gzipped IDX file after its header."""
    raw = gzip.open(path).read()
    return np.frombuffer(raw, dtype=np.uint8, offset=4 * header_words)


def all_cnn_c() -> nn.Sequential:
    layers: list[nn.Module] = [nn.Dropout(0.2)]
    previous = 1
    for channels in [96, 192]:
        layers += [
            nn.Conv2d(previous, channels, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(channels, channels, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(channels, channels, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Dropout(0.5),
        ]
        previous = channels
    layers += [
        nn.Conv2d(192, 192, 3),
        nn.ReLU(),
        nn.Conv2d(192, 192, 1),
        nn.ReLU(),
        nn.Conv2d(192, 10, 1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
    ]
    return nn.Sequential(*layers)


def build_model(name: str) -> nn.Module:
    if name == "allcnn-c":
        return all_cnn_c()
    if name == "mlp":
        return nn.Sequential(
            nn.Flatten(),
            nn.Linear(784, 256),
            nn.ReLU(),
            nn.Linear(256, 256),
            nn.ReLU(),
            nn.Linear(256, 10),
        )
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv2d(32, 64, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv2d(64, 10, 1),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", choices=["mlp", "cnn", "allcnn-c"], required=True)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=0.5)
    parser.add_argument("--data", type=pathlib.Path, default=pathlib.Path("data/fashion-mnist-subset"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--train-limit", type=int, default=None, help="train on the first N images only"
    )
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    images = read_idx(args.data / "train-images-idx3-ubyte.gz", 4)
    labels = read_idx(args.data / "train-labels-idx1-ubyte.gz", 2)
    inputs = torch.tensor(images, dtype=torch.float32).reshape(-1, 1, 28, 28) / 255.0
    targets = nn.functional.one_hot(torch.tensor(labels, dtype=torch.int64), 10).float()
    if args.train_limit is not None:
        inputs, targets = inputs[: args.train_limit], targets[: args.train_limit]
    count = len(targets)

    model = build_model(args.model)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.learning_rate, momentum=0.9)
    generator = torch.Generator().manual_seed(args.seed)
    epoch_seconds = []
    final_loss = float("nan")
    for _ in range(args.epochs):
        order = torch.randperm(count, generator=generator)
        started = time.perf_counter()
        for first in range(0, count, args.batch_size):
            batch = order[first : first + args.batch_size]
            probs = torch.softmax(model(inputs[batch]), dim=1)
            loss = (-targets[batch] * probs.clamp_min(1e-30).log()).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            final_loss = loss.item()
        epoch_seconds.append(time.perf_counter() - started)

    # The first epoch includes one-time set-up; rates use the later ones.
    timed = epoch_seconds[1:] if len(epoch_seconds) > 1 else epoch_seconds
    print(
        json.dumps(
            {
                "tool": f"pytorch {torch.__version__}",
                "model": args.model,
                "threads": torch.get_num_threads(),
                "epochs": args.epochs,
                "samples_per_epoch": count,
                "epoch_train_seconds": epoch_seconds,
                "samples_per_second": count * len(timed) / sum(timed),
                "final_batch_loss": final_loss,
            }
        )
    )


if __name__ == "__main__":
    main()
