"""The tabular benchmark's peer (bench/tabular.ts): scikit-learn's MLPClassifier on the same
train and test CSV files, with the preprocessing Caviar fits (src/data/preprocess.ts):

  numbers   SimpleImputer(median, add_indicator=True)
  booleans  SimpleImputer(most_frequent, add_indicator=True) on 0/1
  categories SimpleImputer(constant '(missing)') then OneHotEncoder(handle_unknown='ignore')
  then      StandardScaler over every input (Caviar's "standard" normalization)

and the same network and optimizer (the workload file says which). Prints one JSON object:
test accuracy, the network's fit seconds, and the seconds from the CSV text to a fitted
pipeline.

  /usr/bin/python3 bench/peers/sklearn_tabular.py WORKLOAD.json
"""
import csv
import json
import sys
import time

import warnings

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.exceptions import ConvergenceWarning
from sklearn.impute import SimpleImputer
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

TRUE = {"true", "yes", "t", "y", "1"}


def read(path, workload):
    """The file's feature columns as numpy arrays (gaps as NaN or ''), and its labels."""
    missing = set(workload["missing"])
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    header, rows = rows[0], rows[1:]
    columns = []
    for name in workload["columns"]:
        index = header.index(name["name"])
        cells = [row[index].strip() for row in rows]
        if name["type"] == "number":
            columns.append(np.array([np.nan if cell in missing else float(cell) for cell in cells]))
        elif name["type"] == "boolean":
            columns.append(np.array([np.nan if cell in missing else float(cell.lower() in TRUE) for cell in cells]))
        else:
            columns.append(np.array(["" if cell in missing else cell for cell in cells], dtype=object))
    label = header.index(workload["label"])
    y = np.array([row[label] for row in rows])
    x = np.empty((len(rows), len(columns)), dtype=object)
    for index, column in enumerate(columns):
        x[:, index] = column
    return x, y


def main():
    # A fixed number of epochs is the point: not having converged is no news.
    warnings.simplefilter("ignore", ConvergenceWarning)
    workload = json.load(open(sys.argv[1]))
    network = workload["network"]
    started = time.perf_counter()
    x_train, y_train = read(workload["train"], workload)
    x_test, y_test = read(workload["test"], workload)
    kinds = [column["type"] for column in workload["columns"]]
    where = lambda kind: [index for index, found in enumerate(kinds) if found == kind]
    preprocess = ColumnTransformer(
        [
            ("number", SimpleImputer(strategy="median", add_indicator=True), where("number")),
            ("boolean", SimpleImputer(strategy="most_frequent", add_indicator=True), where("boolean")),
            (
                "category",
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value="(missing)", missing_values=""),
                    OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                ),
                where("category"),
            ),
        ]
    )
    mlp = MLPClassifier(
        hidden_layer_sizes=tuple(network["hidden"]),
        activation="relu",
        solver="adam",
        alpha=0.0,
        batch_size=network["batchSize"],
        learning_rate_init=network["learningRate"],
        max_iter=network["epochs"],
        # Every epoch runs: no stop on a plateau, no held-out part.
        tol=0.0,
        n_iter_no_change=network["epochs"] + 1,
        early_stopping=False,
        shuffle=True,
        random_state=workload["seed"],
    )
    model = Pipeline([("preprocess", preprocess), ("scale", StandardScaler()), ("mlp", mlp)])
    encoded = Pipeline(model.steps[:-1]).fit_transform(x_train)
    fit_started = time.perf_counter()
    mlp.fit(encoded, y_train)
    fitted = time.perf_counter()
    accuracy = float((model.predict(x_test) == y_test).mean())
    print(json.dumps({
        "test_accuracy": accuracy,
        "train_seconds": fitted - fit_started,
        "end_to_end_seconds": fitted - started,
        "inputs": int(encoded.shape[1]),
        "epochs": int(mlp.n_iter_),
    }))


main()
