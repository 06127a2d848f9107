"""Parity with PyTorch: the same networks, trained from the same initial weights on the
same mini-batches, must end with the same weights.

For each case, Caviar initializes a network (its own seeded init) and trains it for 50
updates (160 rows, batches of 32, no shuffling, 10 epochs); PyTorch starts from those
initial weights and trains on the same batches in the same order. Every parameter
tensor, the batch-norm running statistics and the inference outputs on held-out rows
must agree within a relative error of 1e-4 (float32): ||caviar - torch|| / ||torch||.
First, PyTorch's side is itself checked: its optimizers, configured as below, must follow
the course's update rules written out in numpy, so a failure points at the right side.

Caviar runs as the compiled TypeScript face under dist/, so build it first (`npm ci` does;
after an edit, `npm run build:ts`). From the repository root:
    /usr/bin/python3 test/parity/torch_parity.py
"""
import base64
import json
import pathlib
import subprocess
import sys

import numpy as np
import torch

TOLERANCE = 1e-4
ROWS, BATCH, EPOCHS, FEATURES = 160, 32, 10, 6
CASE_RUNNER = pathlib.Path(__file__).with_name("caviar_case.mjs")


def encode(array):
    return base64.b64encode(np.ascontiguousarray(array, dtype="<f4").tobytes()).decode()


def decode(text):
    return np.frombuffer(base64.b64decode(text), dtype="<f4").copy()


def make_data(rng, loss, outputs, rows):
    """Inputs from N(0, 1); targets from a random teacher, so there is something to learn."""
    x = rng.standard_normal((rows, FEATURES)).astype(np.float32)
    teacher = rng.standard_normal((FEATURES, outputs)).astype(np.float32)
    scores = np.tanh(x @ teacher) + 0.1 * rng.standard_normal((rows, outputs)).astype(np.float32)
    if loss == "cross-entropy":
        return x, scores.argmax(axis=1).astype(np.float32)
    if loss == "binary-cross-entropy":
        return x, (scores > 0).astype(np.float32)
    return x, scores.astype(np.float32)


def activation_module(name):
    return {
        "relu": torch.nn.ReLU(),
        "leaky-relu": torch.nn.LeakyReLU(0.01),
        "tanh": torch.nn.Tanh(),
        "sigmoid": torch.nn.Sigmoid(),
        "linear": torch.nn.Identity(),
    }[name]


class TorchNetwork(torch.nn.Module):
    """Linear (no bias before batch norm), batch norm, activation: Caviar's layer."""

    def __init__(self, layers, parameters, loss):
        super().__init__()
        self.blocks = torch.nn.ModuleList()
        inputs = FEATURES
        for index, (spec, values) in enumerate(zip(layers, parameters)):
            units, batch_norm = spec["units"], spec.get("batchNorm", False)
            linear = torch.nn.Linear(inputs, units, bias=not batch_norm)
            linear.weight.data = torch.from_numpy(decode(values["weight"]).reshape(units, inputs))
            modules = [linear]
            if batch_norm:
                norm = torch.nn.BatchNorm1d(units, eps=1e-5, momentum=0.1)
                norm.weight.data = torch.from_numpy(decode(values["gamma"]))
                norm.bias.data = torch.from_numpy(decode(values["beta"]))
                norm.running_mean = torch.from_numpy(decode(values["runningMean"]))
                norm.running_var = torch.from_numpy(decode(values["runningVar"]))
                modules.append(norm)
            else:
                linear.bias.data = torch.from_numpy(decode(values["bias"]))
            # The output activation of softmax and sigmoid is fused into the loss, as in
            # Caviar, which computes both losses from the logits; inference applies it.
            fused = index == len(layers) - 1 and loss != "mse"
            modules.append(torch.nn.Identity() if fused else activation_module(spec["activation"]))
            self.blocks.append(torch.nn.Sequential(*modules))
            inputs = units

    def forward(self, x):
        for block in self.blocks:
            x = block(x)
        return x

    def weights(self):
        return [block[0].weight for block in self.blocks]

    def others(self):
        weights = {id(weight) for weight in self.weights()}
        return [parameter for parameter in self.parameters() if id(parameter) not in weights]

    def state(self):
        """The parameters in the order of Caviar's saved model."""
        state = []
        for block in self.blocks:
            layer = {"weight": block[0].weight.detach().numpy().ravel()}
            if isinstance(block[1], torch.nn.BatchNorm1d):
                norm = block[1]
                layer.update(gamma=norm.weight.detach().numpy(), beta=norm.bias.detach().numpy(),
                             runningMean=norm.running_mean.numpy(), runningVar=norm.running_var.numpy())
            else:
                layer["bias"] = block[0].bias.detach().numpy()
            state.append(layer)
        return state


def torch_optimizer(weights, others, optimizer, l2):
    """Caviar's rule for each optimizer, in PyTorch's terms (COURSE-NOTES.md). weights: the
    weight matrices; others: biases and batch-norm gamma/beta, which take no decay."""
    kind, rate = optimizer["type"], optimizer["learningRate"]
    # L2 as lambda/2m ||W||^2 in the cost is weight_decay = lambda/m, on weight matrices only.
    decay = optimizer.get("weightDecay", 0.01) if kind == "adamw" else l2 / BATCH
    groups = [{"params": weights, "weight_decay": decay}, {"params": others, "weight_decay": 0.0}]
    if kind == "sgd":
        return torch.optim.SGD(groups, lr=rate)
    if kind == "momentum":
        beta = optimizer.get("beta", 0.9)
        sgd = torch.optim.SGD(groups, lr=rate, momentum=beta, dampening=beta)
        # The course's v starts at 0; PyTorch's buffer starts at the first gradient
        # unless one is already there.
        for parameter in weights + others:
            sgd.state[parameter]["momentum_buffer"] = torch.zeros_like(parameter)
        return sgd
    if kind == "rmsprop":
        return torch.optim.RMSprop(groups, lr=rate, alpha=optimizer.get("beta", 0.9),
                                   eps=optimizer.get("epsilon", 1e-8))
    betas = (optimizer.get("beta1", 0.9), optimizer.get("beta2", 0.999))
    epsilon = optimizer.get("epsilon", 1e-8)
    if kind == "adam":
        return torch.optim.Adam(groups, lr=rate, betas=betas, eps=epsilon)
    return torch.optim.AdamW(groups, lr=rate, betas=betas, eps=epsilon)


def course_updates(optimizer, l2, start, gradients):
    """The course's update rules (COURSE-NOTES.md) written out in numpy, for a weight matrix
    and a bias given their gradients at each step: the reference for torch_optimizer."""
    kind, rate = optimizer["type"], optimizer["learningRate"]
    values = dict(start)
    velocity = {key: np.zeros_like(value) for key, value in start.items()}
    square = {key: np.zeros_like(value) for key, value in start.items()}
    for step, gradient in enumerate(gradients, start=1):
        for key, value in values.items():
            is_weight = key == "weight"
            g = gradient[key] + (l2 / BATCH * value if is_weight else 0.0)
            if kind == "sgd":
                update = g
            elif kind == "momentum":
                velocity[key] = optimizer["beta"] * velocity[key] + (1 - optimizer["beta"]) * g
                update = velocity[key]
            elif kind == "rmsprop":
                square[key] = optimizer["beta"] * square[key] + (1 - optimizer["beta"]) * g ** 2
                update = g / (np.sqrt(square[key]) + optimizer["epsilon"])
            else:
                beta1, beta2 = optimizer["beta1"], optimizer["beta2"]
                velocity[key] = beta1 * velocity[key] + (1 - beta1) * g
                square[key] = beta2 * square[key] + (1 - beta2) * g ** 2
                corrected = np.sqrt(square[key] / (1 - beta2 ** step))
                update = velocity[key] / (1 - beta1 ** step) / (corrected + optimizer["epsilon"])
                if kind == "adamw" and is_weight:
                    update = update + optimizer["weightDecay"] * value
            values[key] = value - rate * update
    return values


def check_reference():
    """PyTorch's optimizers, configured by torch_optimizer, against course_updates in double
    precision, so that a failed case below can be blamed on the right side."""
    rng = np.random.default_rng(0)
    start = {"weight": rng.standard_normal((3, 4)), "bias": rng.standard_normal(3)}
    gradients = [{key: rng.standard_normal(value.shape) for key, value in start.items()} for _ in range(5)]
    adam = {"beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8}
    settings = [({"type": "sgd", "learningRate": 0.1}, 0.5),
                ({"type": "momentum", "learningRate": 0.1, "beta": 0.9}, 0.5),
                ({"type": "rmsprop", "learningRate": 0.01, "beta": 0.9, "epsilon": 1e-8}, 0.5),
                ({"type": "adam", "learningRate": 0.01, **adam}, 0.5),
                ({"type": "adamw", "learningRate": 0.01, "weightDecay": 0.1, **adam}, 0.0)]
    errors = {}
    for optimizer, l2 in settings:
        parameters = {key: torch.tensor(value, requires_grad=True) for key, value in start.items()}
        reference = torch_optimizer([parameters["weight"]], [parameters["bias"]], optimizer, l2)
        for gradient in gradients:
            for key, parameter in parameters.items():
                parameter.grad = torch.from_numpy(gradient[key])
            reference.step()
        expected = course_updates(optimizer, l2, start, gradients)
        errors[optimizer["type"]] = max(relative_error(parameters[key].detach().numpy(), expected[key])
                                        for key in start)
    worst = max(errors, key=errors.get)
    # Double precision: anything but rounding means torch_optimizer mistranslates a rule.
    passed = errors[worst] < 1e-12
    print(f"{'ok  ' if passed else 'FAIL'} PyTorch's optimizers follow the course's rules: "
          f"worst relative error {errors[worst]:.2e} ({worst})")
    return passed


def class_weights(spec, y):
    """training.classWeights as one weight per class: "balanced" is scikit-learn's
    n / (k count_c), a map gives weights by class index (a class left out weighs 1)."""
    given = spec["training"].get("classWeights")
    if given is None:
        return None
    classes = spec["model"]["layers"][-1]["units"] if spec["loss"] == "cross-entropy" else 2
    if given == "balanced":
        counts = np.bincount((y >= 0.5).astype(int) if classes == 2 else y.astype(int), minlength=classes)
        return torch.from_numpy((len(y) / (classes * counts)).astype(np.float32))
    return torch.tensor([given.get(str(index), 1.0) for index in range(classes)], dtype=torch.float32)


def torch_loss(loss, weights):
    """Caviar's cost, the Keras convention with class weights: the mean over the rows of each
    row's loss times its class's weight. For cross-entropy that is reduction='none' then
    mean(): PyTorch's default reduction would divide by the sum of the rows' weights."""
    functional = torch.nn.functional
    if weights is None:
        return {"cross-entropy": lambda out, y: functional.cross_entropy(out, y.long()),
                "binary-cross-entropy": functional.binary_cross_entropy_with_logits,
                "mse": functional.mse_loss}[loss]
    if loss == "cross-entropy":
        return lambda out, y: functional.cross_entropy(out, y.long(), weight=weights, reduction="none").mean()
    return lambda out, y: functional.binary_cross_entropy_with_logits(out, y, weight=weights[y.long()])


def train_torch(spec, initial, x, y):
    network = TorchNetwork(spec["model"]["layers"], initial, spec["loss"])
    training = spec["training"]
    optimizer = torch_optimizer(network.weights(), network.others(), training["optimizer"],
                                training.get("l2", 0.0))
    loss_function = torch_loss(spec["loss"], class_weights(spec, y))
    inputs, targets = torch.from_numpy(x), torch.from_numpy(y)
    if spec["loss"] != "cross-entropy":
        targets = targets.reshape(len(x), -1)
    network.train()
    for _ in range(training["epochs"]):
        for start in range(0, len(x), BATCH):
            optimizer.zero_grad()
            loss = loss_function(network(inputs[start:start + BATCH]), targets[start:start + BATCH])
            loss.backward()
            optimizer.step()
    return network


def torch_outputs(network, loss, x):
    network.eval()
    with torch.no_grad():
        out = network(torch.from_numpy(x))
        if loss == "cross-entropy":
            out = torch.softmax(out, dim=1)
        elif loss == "binary-cross-entropy":
            out = torch.sigmoid(out)
    return out.numpy().ravel()


def relative_error(ours, theirs):
    return float(np.linalg.norm(ours - theirs) / max(np.linalg.norm(theirs), 1e-30))


def run_case(name, spec, seed):
    rng = np.random.default_rng(seed)
    outputs = spec["model"]["layers"][-1]["units"]
    x, y = make_data(rng, spec["loss"], outputs, ROWS)
    held_out, _ = make_data(rng, spec["loss"], outputs, 40)
    spec = {**spec, "normalize": "none",
            "training": {**spec["training"], "epochs": EPOCHS, "batchSize": BATCH, "shuffle": False, "seed": seed}}
    request = {"spec": spec, "train": {"x": encode(x), "y": encode(y), "rows": ROWS, "features": FEATURES},
               "evaluate": {"x": encode(held_out), "rows": len(held_out)}}
    completed = subprocess.run(["node", str(CASE_RUNNER)], input=json.dumps(request), capture_output=True,
                               text=True, check=False)
    if completed.returncode != 0:
        print(f"FAIL {name}: Caviar failed\n{completed.stderr}")
        return False
    caviar = json.loads(completed.stdout)
    network = train_torch(spec, caviar["initial"], x, y)
    errors = {}
    for index, (ours, theirs) in enumerate(zip(caviar["final"], network.state())):
        for key, values in theirs.items():
            errors[f"layers/{index}/{key}"] = relative_error(decode(ours[key]), values)
    errors["outputs"] = relative_error(decode(caviar["outputs"]), torch_outputs(network, spec["loss"], held_out))
    worst = max(errors, key=errors.get)
    passed = errors[worst] < TOLERANCE
    print(f"{'ok  ' if passed else 'FAIL'} {name}: worst relative error {errors[worst]:.2e} ({worst}), "
          f"outputs {errors['outputs']:.2e}")
    if not passed:
        for key, error in errors.items():
            print(f"       {key}: {error:.2e}")
    return passed


def layers(*specs):
    return [dict(units=units, activation=activation, **extra) for units, activation, extra in specs]


CASES = {
    "sgd, relu, softmax": dict(
        model={"layers": layers((16, "relu", {}), (8, "relu", {}), (3, "softmax", {}))}, loss="cross-entropy",
        training={"optimizer": {"type": "sgd", "learningRate": 0.1}}),
    "momentum (first step from v = 0), tanh": dict(
        model={"layers": layers((16, "tanh", {}), (3, "softmax", {}))}, loss="cross-entropy",
        training={"optimizer": {"type": "momentum", "learningRate": 0.1, "beta": 0.9}}),
    "rmsprop, leaky-relu, sigmoid output": dict(
        model={"layers": layers((16, "leaky-relu", {}), (8, "relu", {}), (1, "sigmoid", {}))},
        loss="binary-cross-entropy", training={"optimizer": {"type": "rmsprop", "learningRate": 0.01}}),
    "adam, relu, softmax": dict(
        model={"layers": layers((16, "relu", {}), (8, "relu", {}), (4, "softmax", {}))}, loss="cross-entropy",
        training={"optimizer": {"type": "adam", "learningRate": 0.01}}),
    "adamw (decay on weights only)": dict(
        model={"layers": layers((16, "relu", {}), (4, "softmax", {}))}, loss="cross-entropy",
        training={"optimizer": {"type": "adamw", "learningRate": 0.01, "weightDecay": 0.1}}),
    "L2 with sgd": dict(
        model={"layers": layers((16, "relu", {}), (3, "softmax", {}))}, loss="cross-entropy",
        training={"l2": 0.5, "optimizer": {"type": "sgd", "learningRate": 0.1}}),
    "L2 with adam": dict(
        model={"layers": layers((16, "tanh", {}), (1, "sigmoid", {}))}, loss="binary-cross-entropy",
        training={"l2": 0.5, "optimizer": {"type": "adam", "learningRate": 0.01}}),
    "batch norm (train and eval), adam": dict(
        model={"layers": layers((16, "relu", {"batchNorm": True}), (8, "tanh", {"batchNorm": True}),
                                (3, "softmax", {}))},
        loss="cross-entropy", training={"optimizer": {"type": "adam", "learningRate": 0.01}}),
    "batch norm with momentum and L2": dict(
        model={"layers": layers((16, "leaky-relu", {"batchNorm": True}), (3, "softmax", {}))},
        loss="cross-entropy", training={"l2": 0.2, "optimizer": {"type": "momentum", "learningRate": 0.05}}),
    "class weights by index, softmax, sgd": dict(
        model={"layers": layers((16, "relu", {}), (3, "softmax", {}))}, loss="cross-entropy",
        training={"classWeights": {"0": 0.5, "1": 3.0, "2": 1.5}, "optimizer": {"type": "sgd", "learningRate": 0.1}}),
    "balanced class weights, softmax, batch norm, adam": dict(
        model={"layers": layers((16, "tanh", {"batchNorm": True}), (4, "softmax", {}))}, loss="cross-entropy",
        training={"classWeights": "balanced", "optimizer": {"type": "adam", "learningRate": 0.01}}),
    "class weights, sigmoid output, L2 with momentum": dict(
        model={"layers": layers((16, "relu", {}), (1, "sigmoid", {}))}, loss="binary-cross-entropy",
        training={"classWeights": {"0": 0.3, "1": 2.5}, "l2": 0.2,
                  "optimizer": {"type": "momentum", "learningRate": 0.1, "beta": 0.9}}),
    "mse regression, sigmoid hidden": dict(
        model={"layers": layers((16, "sigmoid", {}), (2, "linear", {}))}, loss="mse",
        training={"optimizer": {"type": "sgd", "learningRate": 0.1}}),
}


def main():
    torch.manual_seed(0)
    results = [check_reference()]
    results += [run_case(name, spec, seed) for seed, (name, spec) in enumerate(CASES.items(), start=1)]
    passed = sum(results)
    print(f"{passed} passed, {len(results) - passed} failed")
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
