#!/usr/bin/python3
"""PyTorch peer of Caviar's sweep benchmark (bench/sweep.ts): the trials of a sweep, driven
from Python, in a multiprocessing pool of parallel processes, one thread each.

    /usr/bin/python3 bench/peers/torch_sweep.py --trials trials.json --processes 2 --json

The trials file is the one bench/sweep.ts writes: Caviar's moons rows and its train/dev
split, and each trial's full job spec (the hyperparameters the Caviar sweep drew). Each
trial trains what Caviar's trial trains: the same network (nn.Linear layers with the
spec's units and activations, the sigmoid output fused into BCEWithLogitsLoss), He
initialization (N(0, 2/fan_in), biases 0), Adam with the spec's rate, betas and epsilon,
the spec's batch size (the last batch of an epoch may be smaller), epochs and seed, the
training rows reshuffled each epoch, inputs standardized with the train part's
statistics (Caviar's "standard": mean and population standard deviation), and the dev
part's accuracy measured after every epoch, as a Caviar trial does for its sweep's metric.

The loop is the plain one a PyTorch user writes for data already in memory (a randperm per
epoch, index slicing per batch), as in torch_workloads.py. The pool forks its processes
from this one, after `import torch`, so no trial pays for the import.

Figures: wall_seconds from creating the pool to joining it; cpu_seconds over the same span
from os.times(): this process's user + system time and that of its children, which the
pool has waited for by the time join() returns.
"""

import argparse
import json
import math
import os
import sys
import time

# One thread per trial process: OpenBLAS reads its thread count when torch loads it.
os.environ["OPENBLAS_NUM_THREADS"] = "1"
os.environ["OMP_NUM_THREADS"] = "1"
os.environ["MKL_NUM_THREADS"] = "1"

import multiprocessing  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

# Set in the parent before the pool forks; read by the trial processes.
DATA = {}


def log(message):
    print(message, file=sys.stderr, flush=True)


def load_data(data):
    """Caviar's rows, split as Caviar split them, standardized with the train part's statistics."""
    features = data["features"]
    x = np.asarray(data["x"], dtype=np.float32).reshape(data["rows"], features)
    y = np.asarray(data["y"], dtype=np.float32).reshape(data["rows"], -1)
    train, dev = np.asarray(data["train"], dtype=np.int64), np.asarray(data["dev"], dtype=np.int64)
    train_x, dev_x = x[train], x[dev]
    normalize = data.get("normalize", "standard")
    if normalize == "standard":
        columns = train_x.astype(np.float64)
        shift = columns.mean(axis=0)
        scale = np.sqrt(((columns - shift) ** 2).mean(axis=0))
    elif normalize == "minmax":
        shift = train_x.min(axis=0).astype(np.float64)
        scale = train_x.max(axis=0).astype(np.float64) - shift
    else:
        shift, scale = np.zeros(features), np.ones(features)
    shift, scale = shift.astype(np.float32), scale.astype(np.float32)
    scale[scale == 0] = 1
    standardize = lambda part: torch.from_numpy((part - shift) / scale)
    return standardize(train_x), torch.from_numpy(y[train]), standardize(dev_x), torch.from_numpy(y[dev])


def build_model(layers, fan_in):
    modules = []
    for index, layer in enumerate(layers):
        units = layer["units"]
        linear = nn.Linear(fan_in, units)
        # He initialization, N(0, 2/fan_in), biases 0: Caviar's "he".
        nn.init.normal_(linear.weight, std=math.sqrt(2 / fan_in))
        nn.init.zeros_(linear.bias)
        modules.append(linear)
        activation = layer["activation"]
        last = index == len(layers) - 1
        if activation == "relu":
            modules.append(nn.ReLU())
        elif activation == "tanh":
            modules.append(nn.Tanh())
        elif not (last and activation == "sigmoid"):
            raise ValueError(f"unsupported activation {activation}")
        fan_in = units
    return nn.Sequential(*modules)


def start_process():
    torch.set_num_threads(1)


def run_trial(trial):
    """One trial: trains its spec, and returns its dev accuracy after every epoch's best and last."""
    started = time.perf_counter()
    spec = trial["spec"]
    training = spec["training"]
    optimizer_spec = training.get("optimizer", {"type": "adam"})
    if optimizer_spec.get("type", "adam") != "adam":
        raise ValueError("the sweep benchmark's trials use Adam")
    layers = spec["model"]["layers"]
    if layers[-1]["activation"] != "sigmoid" or layers[-1]["units"] != 1:
        raise ValueError("the sweep benchmark's trials are binary classifiers with one sigmoid output")
    if spec["model"].get("init", "he") != "he":
        raise ValueError("the sweep benchmark's trials use He initialization")
    train_x, train_y, dev_x, dev_y = DATA["train_x"], DATA["train_y"], DATA["dev_x"], DATA["dev_y"]
    seed = training.get("seed", 0)
    torch.manual_seed(seed)
    model = build_model(layers, train_x.shape[1])
    loss_function = nn.BCEWithLogitsLoss()
    optimizer = torch.optim.Adam(
        model.parameters(),
        lr=optimizer_spec.get("learningRate", 0.001),
        betas=(optimizer_spec.get("beta1", 0.9), optimizer_spec.get("beta2", 0.999)),
        eps=optimizer_spec.get("epsilon", 1e-8),
    )
    shuffle = training.get("shuffle", True)
    shuffle_generator = torch.Generator().manual_seed(seed)
    batch_size = training.get("batchSize", 64)
    rows = train_x.shape[0]
    dev_accuracies = []
    for _ in range(training["epochs"]):
        model.train()
        order = torch.randperm(rows, generator=shuffle_generator) if shuffle else torch.arange(rows)
        for start in range(0, rows, batch_size):
            batch = order[start:start + batch_size]
            optimizer.zero_grad(set_to_none=True)
            loss_function(model(train_x[batch]), train_y[batch]).backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            correct = ((model(dev_x) > 0).float() == dev_y).sum().item()
        dev_accuracies.append(correct / dev_y.shape[0])
    finite = all(torch.isfinite(parameter).all().item() for parameter in model.parameters())
    return {
        "trial": trial["trial"],
        "status": "succeeded" if finite else "failed",
        "best_dev_accuracy": max(dev_accuracies) if dev_accuracies else None,
        "final_dev_accuracy": dev_accuracies[-1] if dev_accuracies else None,
        "seconds": time.perf_counter() - started,
        "pid": os.getpid(),
    }


def cpu_seconds(times):
    return times.user + times.system + times.children_user + times.children_system


def main():
    parser = argparse.ArgumentParser(description="PyTorch peer of Caviar's sweep benchmark.")
    parser.add_argument("--trials", required=True, help="the trials file bench/sweep.ts writes")
    parser.add_argument("--processes", type=int, default=2, help="trials at once, one process each (default 2)")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    arguments = parser.parse_args()
    with open(arguments.trials) as stream:
        content = json.load(stream)
    train_x, train_y, dev_x, dev_y = load_data(content["data"])
    DATA.update(train_x=train_x, train_y=train_y, dev_x=dev_x, dev_y=dev_y)
    trials = content["trials"]
    # fork (Linux's default before Python 3.14): the processes start with torch imported and the data loaded.
    context = multiprocessing.get_context("fork")
    times_before = os.times()
    started = time.perf_counter()
    pool = context.Pool(arguments.processes, initializer=start_process)
    outcomes = []
    for outcome in pool.imap_unordered(run_trial, trials, chunksize=1):
        outcomes.append(outcome)
        if len(outcomes) % max(1, len(trials) // 8) == 0 or len(outcomes) == len(trials):
            log(f"  {len(outcomes)}/{len(trials)} trials ended")
    pool.close()
    pool.join()
    wall = time.perf_counter() - started
    cpu = cpu_seconds(os.times()) - cpu_seconds(times_before)
    outcomes.sort(key=lambda outcome: outcome["trial"])
    result = {
        "peer": "torch",
        "description": f"multiprocessing pool (fork) of {arguments.processes} processes, torch.set_num_threads(1) "
                       "and OPENBLAS_NUM_THREADS=OMP_NUM_THREADS=1 in each",
        "processes": arguments.processes,
        "trials": len(trials),
        "wall_seconds": wall,
        "cpu_seconds": cpu,
        "outcomes": outcomes,
        "torch_version": torch.__version__,
    }
    if arguments.json:
        print(json.dumps(result))
    else:
        best = max((outcome["best_dev_accuracy"] or 0) for outcome in outcomes)
        print(f"torch sweep: {len(trials)} trials in {wall:.2f} s ({60 * len(trials) / wall:.1f} trials/min), "
              f"CPU {cpu:.1f} s, best dev accuracy {best:.4f}")


if __name__ == "__main__":
    main()
