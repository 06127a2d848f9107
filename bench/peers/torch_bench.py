#!/usr/bin/python3
"""PyTorch peer of Caviar's benchmarks: trains a workload of workloads.json and prints its figures.

Run with Debian's /usr/bin/python3 (python3-torch), one thread configuration per process:
    /usr/bin/python3 bench/peers/torch_bench.py --workload W1 --threads single --json
Each run measures PyTorch's default floating-point mode and flush-denormal, each in its
own child process, and reports both; the top-level figures are the faster variant's.
"""

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
from pathlib import Path

WORKLOADS_FILE = Path(__file__).resolve().parent / "workloads.json"

# OpenBLAS reads its thread count from the environment once, when it is loaded (at
# `import torch`), and torch.set_num_threads does not change it: hence one process per
# configuration, with the environment settled before the import.
THREAD_CONFIGS = {
    "torch1": {
        "description": "torch.set_num_threads(1); OpenBLAS on its default threads",
        "torchThreads": 1,
        "singleThreadEnvironment": False,
    },
    "torch2": {
        "description": "torch.set_num_threads(2); OpenBLAS on its default threads",
        "torchThreads": 2,
        "singleThreadEnvironment": False,
    },
    "single": {
        "description": "torch.set_num_threads(1), OPENBLAS_NUM_THREADS=1 and OMP_NUM_THREADS=1 set before torch is imported",
        "torchThreads": 1,
        "singleThreadEnvironment": True,
    },
}
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS")
DENORMAL_VARIANTS = ("default", "flush")
# Fields that both denormal variants of one run have alike: reported once, not per variant.
SHARED_FIELDS = ("peer", "workload", "name", "metric", "config", "config_description",
                 "torch_version", "torch_threads", "openblas", "cpu")


def load_workload(name):
    definitions = json.loads(WORKLOADS_FILE.read_text())
    workload = definitions["workloads"][name]
    if "extends" in workload:
        base = definitions["workloads"][workload["extends"]]
        workload = {**base, **{key: value for key, value in workload.items() if key != "extends"}}
    return workload, definitions


def parse_arguments():
    parser = argparse.ArgumentParser(description="PyTorch peer of Caviar's benchmarks.")
    parser.add_argument("--workload", required=True, choices=["W1", "W2", "W3", "W4", "sgemm"])
    parser.add_argument("--threads", default="single", choices=sorted(THREAD_CONFIGS))
    parser.add_argument("--denormals", default="both", choices=["both", *DENORMAL_VARIANTS],
                        help="default: PyTorch as it starts; flush: torch.set_flush_denormal(True); both: each in a child process")
    parser.add_argument("--epochs", type=int, help="override the workload's epochs (W1, W2, W4), for short runs")
    parser.add_argument("--steps", type=int, help="override the workload's steps (W3)")
    parser.add_argument("--rows", type=int, help="train on the first ROWS training rows only (W1, W4), for short runs")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    return parser.parse_args()


def settle_thread_environment(config):
    for variable in THREAD_VARIABLES:
        os.environ.pop(variable, None)
    if config["singleThreadEnvironment"]:
        os.environ["OPENBLAS_NUM_THREADS"] = "1"
        os.environ["OMP_NUM_THREADS"] = "1"


def cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def peak_rss_mebibytes():
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_variant(arguments):
    config = THREAD_CONFIGS[arguments.threads]
    settle_thread_environment(config)
    # Imported only now: OpenBLAS, loaded with torch, reads its thread count at load time.
    import torch
    import torch_workloads
    torch.set_num_threads(config["torchThreads"])
    if arguments.denormals == "flush":
        # Before any work, so that threads torch starts later inherit the mode.
        if not torch.set_flush_denormal(True):
            sys.exit("this CPU cannot flush denormals")
    # sgemm times the products of a W3 step.
    workload, definitions = load_workload("W3" if arguments.workload == "sgemm" else arguments.workload)
    name, metric = ("sgemm", "gflops") if arguments.workload == "sgemm" else (workload["name"], workload["metric"])
    figures = torch_workloads.RUNNERS[arguments.workload](workload, definitions, arguments)
    return {
        "peer": "torch",
        "workload": arguments.workload,
        "name": name,
        "metric": metric,
        "config": arguments.threads,
        "config_description": config["description"],
        "denormals": arguments.denormals,
        **figures,
        "torch_version": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "openblas": torch_workloads.openblas_description(),
        "cpu": cpu_model(),
        "peak_rss_mib": peak_rss_mebibytes(),
    }


def run_both_variants(arguments):
    """Each denormal mode in a fresh process: the mode is per thread, and threads that
    OpenBLAS or OpenMP started under one mode would keep it into the other's measurement."""
    variants = {}
    for variant in DENORMAL_VARIANTS:
        command = [sys.executable, __file__, *sys.argv[1:], "--denormals", variant, "--json"]
        completed = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True)
        variants[variant] = json.loads(completed.stdout)
    metric = variants["default"]["metric"]
    best = max(DENORMAL_VARIANTS, key=lambda variant: variants[variant][metric])
    shared = {key: value for key, value in variants[best].items() if key in SHARED_FIELDS}
    own = {variant: {key: value for key, value in figures.items() if key not in SHARED_FIELDS}
           for variant, figures in variants.items()}
    return {**shared, **own[best], "best": best, "variants": own}


def summary_line(result):
    metric = result["metric"]
    parts = [f"torch {result['workload']} ({result['name']}) {result['config']}, denormals {result['denormals']}:",
             f"{result[metric]:,.1f} {metric.replace('_', ' ')}"]
    if "test_accuracy" in result:
        parts.append(f"test accuracy {result['test_accuracy']:.4f}")
    if "train_accuracy" in result:
        parts.append(f"train accuracy {result['train_accuracy']:.4f}")
    if result["workload"] == "W3":
        parts.append(f"sgemm at the same shapes {result['sgemm']['gflops']:,.1f} GFLOP/s")
    for variant, figures in result.get("variants", {}).items():
        parts.append(f"[{variant}: {figures[metric]:,.1f}]")
    return " ".join(parts)


def main():
    arguments = parse_arguments()
    if arguments.denormals == "both":
        result = run_both_variants(arguments)
    else:
        result = run_variant(arguments)
    print(json.dumps(result) if arguments.json else summary_line(result))


if __name__ == "__main__":
    main()
