"""The PyTorch side of the workloads in workloads.json: data, models, training loops, timing.

torch_bench.py imports this module only once it has set the thread environment, because
OpenBLAS (loaded by torch and numpy) reads its thread count when it is loaded.
"""

import ctypes
import gzip
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn


def log(message):
    print(message, file=sys.stderr, flush=True)


def openblas_description():
    """The OpenBLAS that torch loaded: its kernels (core name) decide the GEMM speed."""
    try:
        library = ctypes.CDLL("libopenblas.so.0")
    except OSError:
        return None
    library.openblas_get_corename.restype = ctypes.c_char_p
    library.openblas_get_config.restype = ctypes.c_char_p
    return {
        "core": library.openblas_get_corename().decode(),
        "config": library.openblas_get_config().decode(),
        "threads": library.openblas_get_num_threads(),
    }


# ---- data ----

def read_idx(path):
    with gzip.open(path, "rb") as stream:
        content = stream.read()
    dimension_count = content[3]
    shape = [int.from_bytes(content[4 + 4 * index: 8 + 4 * index], "big") for index in range(dimension_count)]
    return np.frombuffer(content, dtype=np.uint8, offset=4 + 4 * dimension_count).reshape(shape)


def load_fashion_mnist(dataset):
    """Train and test images as float32 rows standardized with the train part's per-pixel statistics."""
    directory = Path(dataset["directory"])
    if not directory.is_dir():
        sys.exit(f"Fashion-MNIST not found in {directory}: apt-get install dataset-fashion-mnist")
    train_pixels = read_idx(directory / dataset["trainImages"]).reshape(-1, 784)
    test_pixels = read_idx(directory / dataset["testImages"]).reshape(-1, 784)
    # Sums in double over blocks of rows: a float64 copy of the whole set would inflate the
    # peak memory that the run reports.
    total = np.zeros(784)
    squares = np.zeros(784)
    for block in np.array_split(train_pixels, 20):
        block = block.astype(np.float64)
        total += block.sum(axis=0)
        squares += (block * block).sum(axis=0)
    mean = total / len(train_pixels)
    deviation = np.sqrt(np.maximum(squares / len(train_pixels) - mean * mean, 0))
    deviation[deviation == 0] = 1

    def standardize(pixels):
        images = pixels.astype(np.float32)
        images -= mean.astype(np.float32)
        images /= deviation.astype(np.float32)
        return torch.from_numpy(images)

    labels = lambda name: torch.from_numpy(read_idx(directory / dataset[name]).astype(np.int64))
    return standardize(train_pixels), labels("trainLabels"), standardize(test_pixels), labels("testLabels")


def make_moons(samples, noise, seed):
    """sklearn.datasets.make_moons(samples, noise=noise) drawn from np.random.RandomState(seed)."""
    random = np.random.RandomState(seed)
    outer_count = samples // 2
    inner_count = samples - outer_count
    outer_angles = np.linspace(0, math.pi, outer_count)
    inner_angles = np.linspace(0, math.pi, inner_count)
    points = np.vstack([
        np.append(np.cos(outer_angles), 1 - np.cos(inner_angles)),
        np.append(np.sin(outer_angles), 1 - np.sin(inner_angles) - 0.5),
    ]).T
    labels = np.hstack([np.zeros(outer_count), np.ones(inner_count)])
    order = np.arange(samples)
    random.shuffle(order)
    points = points[order] + random.normal(scale=noise, size=points.shape)
    return torch.from_numpy(points.astype(np.float32)), torch.from_numpy(labels[order].astype(np.float32)).unsqueeze(1)


def make_random_data(random_spec):
    generator = torch.Generator().manual_seed(random_spec["seed"])
    inputs = torch.randn(random_spec["rows"], random_spec["features"], generator=generator)
    labels = torch.randint(random_spec["classes"], (random_spec["rows"],), generator=generator)
    return inputs, labels


# ---- model ----

def build_model(model_spec, inputs, batch_norm):
    modules = []
    fan_in = inputs
    for layer in model_spec["layers"]:
        units = layer["units"]
        with_batch_norm = layer.get("batchNorm", False)
        # Batch norm's beta makes the Linear's bias redundant.
        linear = nn.Linear(fan_in, units, bias=not with_batch_norm)
        # He initialization, N(0, 2/fan_in), biases 0: Caviar's "he".
        nn.init.normal_(linear.weight, std=math.sqrt(2 / fan_in))
        if linear.bias is not None:
            nn.init.zeros_(linear.bias)
        modules.append(linear)
        if with_batch_norm:
            modules.append(nn.BatchNorm1d(units, eps=batch_norm["epsilon"], momentum=batch_norm["momentum"]))
        if layer["activation"] == "relu":
            modules.append(nn.ReLU())
        elif layer["activation"] not in ("softmax", "sigmoid"):
            raise ValueError(f"unsupported activation {layer['activation']}")
        # softmax and sigmoid outputs are fused into the loss, as PyTorch users write it.
        if layer.get("dropout", 0) > 0:
            modules.append(nn.Dropout(layer["dropout"]))
        fan_in = units
    return nn.Sequential(*modules)


def build_loss(name):
    return {"cross-entropy": nn.CrossEntropyLoss, "binary-cross-entropy": nn.BCEWithLogitsLoss}[name]()


def build_optimizer(optimizer_spec, parameters):
    kind = optimizer_spec["type"]
    if kind == "adam":
        return torch.optim.Adam(parameters, lr=optimizer_spec["learningRate"],
                                betas=(optimizer_spec["beta1"], optimizer_spec["beta2"]), eps=optimizer_spec["epsilon"])
    if kind == "momentum":
        # dampening=beta gives the course's v = beta v + (1 - beta) dW; PyTorch starts v at
        # the first gradient instead of 0, which changes nothing in the timing.
        beta = optimizer_spec["beta"]
        return torch.optim.SGD(parameters, lr=optimizer_spec["learningRate"], momentum=beta, dampening=beta)
    if kind == "sgd":
        return torch.optim.SGD(parameters, lr=optimizer_spec["learningRate"])
    raise ValueError(f"unsupported optimizer {kind}")


def training_step(model, loss_function, optimizer, inputs, targets):
    optimizer.zero_grad(set_to_none=True)
    loss_function(model(inputs), targets).backward()
    optimizer.step()


def warm_up(workload, definitions, inputs, targets):
    """A few steps on a throwaway model, so that thread pools, allocator caches and lazy
    initialization are paid before the clock starts."""
    batch_size = workload["training"]["batchSize"]
    model = build_model(workload["model"], inputs.shape[1], definitions["batchNorm"])
    model.train()
    loss_function = build_loss(workload["loss"])
    optimizer = build_optimizer(workload["training"]["optimizer"], model.parameters())
    for step in range(definitions["warmupSteps"]):
        start = (step * batch_size) % max(1, inputs.shape[0] - batch_size + 1)
        training_step(model, loss_function, optimizer, inputs[start:start + batch_size], targets[start:start + batch_size])


def initial_model(workload, definitions, inputs):
    """The model drawn from the workload's seed or, with avoidDeadInitialization, from the
    first seed upward that leaves every hidden ReLU unit active on some training row."""
    seed = workload["training"]["seed"]
    while True:
        torch.manual_seed(seed)
        model = build_model(workload["model"], inputs.shape[1], definitions["batchNorm"])
        if not workload.get("avoidDeadInitialization") or not has_dead_unit(model, inputs):
            model.train()
            return model, seed
        seed += 1


def has_dead_unit(model, inputs):
    model.eval()
    activations = inputs
    with torch.no_grad():
        for module in model:
            activations = module(activations)
            if isinstance(module, nn.ReLU) and not (activations > 0).any(dim=0).all():
                return True
    return False


def train_epochs(workload, definitions, inputs, targets, epochs):
    """The plain loop a PyTorch user writes for data already in memory: one shuffled index
    per epoch and index slicing per batch. No DataLoader: its per-batch collation in Python
    would only slow PyTorch down, so this is PyTorch's honest fast configuration."""
    training = workload["training"]
    batch_size = training["batchSize"]
    warm_up(workload, definitions, inputs, targets)
    model, seed = initial_model(workload, definitions, inputs)
    loss_function = build_loss(workload["loss"])
    optimizer = build_optimizer(training["optimizer"], model.parameters())
    shuffle_generator = torch.Generator().manual_seed(training["seed"])
    rows = inputs.shape[0]
    epoch_seconds = []
    for epoch in range(epochs):
        started = time.perf_counter()
        order = torch.randperm(rows, generator=shuffle_generator)
        for start in range(0, rows, batch_size):
            batch = order[start:start + batch_size]
            training_step(model, loss_function, optimizer, inputs[batch], targets[batch])
        epoch_seconds.append(time.perf_counter() - started)
        if (epoch + 1) % max(1, epochs // 10) == 0:
            log(f"epoch {epoch + 1}/{epochs}: {epoch_seconds[-1]:.3f} s")
    model.eval()
    return model, epoch_seconds, seed


def classification_accuracy(model, inputs, labels):
    with torch.no_grad():
        return (model(inputs).argmax(dim=1) == labels).float().mean().item()


# ---- workloads ----

def run_fashion(workload, definitions, arguments):
    train_inputs, train_labels, test_inputs, test_labels = load_fashion_mnist(workload["dataset"])
    if arguments.rows:
        train_inputs, train_labels = train_inputs[:arguments.rows], train_labels[:arguments.rows]
    epochs = arguments.epochs or workload["training"]["epochs"]
    model, epoch_seconds, seed = train_epochs(workload, definitions, train_inputs, train_labels, epochs)
    seconds = sum(epoch_seconds)
    return {
        "samples_per_second": train_inputs.shape[0] * epochs / seconds,
        "test_accuracy": classification_accuracy(model, test_inputs, test_labels),
        "seconds": seconds,
        "epoch_seconds": epoch_seconds,
        "epochs": epochs,
        "train_rows": train_inputs.shape[0],
        "seed_used": seed,
    }


def run_moons(workload, definitions, arguments):
    dataset = workload["dataset"]
    inputs, labels = make_moons(dataset["samples"], dataset["noise"], dataset["seed"])
    epochs = arguments.epochs or workload["training"]["epochs"]
    model, epoch_seconds, seed = train_epochs(workload, definitions, inputs, labels, epochs)
    seconds = sum(epoch_seconds)
    updates = epochs * math.ceil(inputs.shape[0] / workload["training"]["batchSize"])
    with torch.no_grad():
        train_accuracy = ((model(inputs) > 0).float() == labels).float().mean().item()
    return {
        "updates_per_second": updates / seconds,
        "microseconds_per_update": seconds / updates * 1e6,
        "train_accuracy": train_accuracy,
        "seconds": seconds,
        "updates": updates,
        "epochs": epochs,
        "seed_used": seed,
    }


def layer_shapes(workload):
    shapes = []
    fan_in = workload["model"]["inputs"]
    for layer in workload["model"]["layers"]:
        shapes.append((fan_in, layer["units"]))
        fan_in = layer["units"]
    return shapes


def step_flops(batch_size, shapes):
    total = 6 * batch_size * sum(fan_in * fan_out for fan_in, fan_out in shapes)
    first_in, first_out = shapes[0]
    return total - 2 * batch_size * first_in * first_out


def measure_sgemm(workload):
    """torch.mm at the exact shapes and transpositions of a W3 training step (what nn.Linear
    asks of BLAS), each timed alone: the GEMM ceiling that the step's own rate is compared with."""
    batch_size = workload["training"]["batchSize"]
    products = []
    for index, (fan_in, fan_out) in enumerate(layer_shapes(workload)):
        activations = torch.randn(batch_size, fan_in)
        weights = torch.randn(fan_out, fan_in)
        output_gradient = torch.randn(batch_size, fan_out)
        products.append((f"layer{index + 1} forward X W^T", activations, weights.t(), (batch_size, fan_out)))
        products.append((f"layer{index + 1} dW = dY^T X", output_gradient.t(), activations, (fan_out, fan_in)))
        if index > 0:
            products.append((f"layer{index + 1} dX = dY W", output_gradient, weights, (batch_size, fan_in)))
    results = []
    for name, left, right, output_shape in products:
        output = torch.empty(output_shape)
        flops = 2 * left.shape[0] * left.shape[1] * right.shape[1]
        for _ in range(3):
            torch.mm(left, right, out=output)
        # Enough calls for ~0.1 s per round, median of 5 rounds: robust to a noisy neighbour.
        started = time.perf_counter()
        torch.mm(left, right, out=output)
        calls = max(1, int(0.1 / max(time.perf_counter() - started, 1e-6)))
        round_seconds = []
        for _ in range(5):
            started = time.perf_counter()
            for _ in range(calls):
                torch.mm(left, right, out=output)
            round_seconds.append((time.perf_counter() - started) / calls)
        seconds = sorted(round_seconds)[2]
        results.append({"product": name, "m": left.shape[0], "k": left.shape[1], "n": right.shape[1],
                        "seconds": seconds, "gflops": flops / seconds / 1e9, "flops": flops})
    total_flops = sum(result["flops"] for result in results)
    total_seconds = sum(result["seconds"] for result in results)
    return {
        "gflops": total_flops / total_seconds / 1e9,
        "seconds_per_step": total_seconds,
        "flops_per_step": total_flops,
        "about": "torch.mm (OpenBLAS sgemm) at each product of one W3 step, each timed alone; gflops = the products' flops / the sum of their median times",
        "products": results,
    }


def run_wide(workload, definitions, arguments):
    inputs, labels = make_random_data(workload["dataset"]["random"])
    training = workload["training"]
    batch_size = training["batchSize"]
    steps = arguments.steps or training["steps"]
    warm_up(workload, definitions, inputs, labels)
    model, seed = initial_model(workload, definitions, inputs)
    loss_function = build_loss(workload["loss"])
    optimizer = build_optimizer(training["optimizer"], model.parameters())
    batches = inputs.shape[0] // batch_size
    started = time.perf_counter()
    for step in range(steps):
        start = (step % batches) * batch_size
        training_step(model, loss_function, optimizer, inputs[start:start + batch_size], labels[start:start + batch_size])
    seconds = time.perf_counter() - started
    flops = step_flops(batch_size, layer_shapes(workload))
    sgemm = measure_sgemm(workload)
    gflops = flops * steps / seconds / 1e9
    return {
        "gflops": gflops,
        "fraction_of_sgemm": gflops / sgemm["gflops"],
        "seconds": seconds,
        "steps": steps,
        "seed_used": seed,
        "flops_per_step": flops,
        "flop_formula": workload["flopFormula"],
        "sgemm": sgemm,
    }


def run_sgemm(workload, definitions, arguments):
    sgemm = measure_sgemm(workload)
    return {"gflops": sgemm["gflops"], "seconds": sgemm["seconds_per_step"], "sgemm": sgemm}


RUNNERS = {"W1": run_fashion, "W2": run_moons, "W3": run_wide, "W4": run_fashion, "sgemm": run_sgemm}
