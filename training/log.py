"""The training log, checkpoint/log.jsonl: one JSON record per --log_every iterations.

Its writer (TrainingLog, for the loop) and its reader (read_log, for plots) live together, so
the two agree on what a record is. Records are appended; a record cut short by a kill is
kept and skipped when read.
"""
import json
import os

import numpy as np

COLUMNS = ("iteration", "size", "d_loss", "g_loss", "penalty", "img_per_s", "fid", "augment_p")
MAX_POINTS = 2048  # more are merged pairwise, so a run of any length keeps a fixed footprint


class TrainingCurves:
    """The logged figures as columns, at most 2 * MAX_POINTS rows: when full, neighbouring
    rows are averaged in pairs and later records are merged in pairs too."""

    def __init__(self):
        self.rows = []
        self.pending = []
        self.stride = 1

    def add(self, record):
        row = [float(record.get(key, np.nan)) for key in COLUMNS]
        self.pending.append(row)
        if len(self.pending) < self.stride:
            return
        self.rows.append(merged(self.pending))
        self.pending = []
        if len(self.rows) >= 2 * MAX_POINTS:
            self.rows = [merged(self.rows[i:i + 2]) for i in range(0, len(self.rows), 2)]
            self.stride *= 2

    def columns(self):
        rows = self.rows + ([merged(self.pending)] if self.pending else [])
        table = np.array(rows, dtype=np.float64).reshape(-1, len(COLUMNS))
        return {key: table[:, index] for index, key in enumerate(COLUMNS)}

    def __len__(self):
        return len(self.rows) + bool(self.pending)


def merged(rows):
    """One row for several: the mean of each figure over the rows that have it (NaN where
    none has), and the largest resolution."""
    table = np.array(rows, dtype=np.float64)
    finite = np.isfinite(table)
    counts = finite.sum(0)
    row = np.where(finite, table, 0).sum(0) / np.maximum(counts, 1)
    row[counts == 0] = np.nan
    sizes = table[:, COLUMNS.index("size")]
    sizes = sizes[np.isfinite(sizes)]
    row[COLUMNS.index("size")] = sizes.max() if sizes.size else np.nan
    return list(row)


def logged_iteration(line):
    try:
        return int(json.loads(line)["iteration"])
    except (ValueError, KeyError, TypeError):
        return -1  # a line cut short by a kill: kept, and skipped when read


def trim_log(path, iteration):
    """Drop the records after `iteration`: a run resumed from an older checkpoint logs
    those iterations again."""
    with open(path) as log:
        lines = log.readlines()
    kept = [line for line in lines if logged_iteration(line) <= iteration]
    if len(kept) < len(lines):
        temp_path = path + ".tmp"
        with open(temp_path, "w") as log:
            log.writelines(kept)
        os.replace(temp_path, path)


def read_log(path):
    """TrainingCurves from a log.jsonl; lines cut short by a crash are skipped."""
    curves = TrainingCurves()
    with open(path) as log:
        for line in log:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict) and "iteration" in record:
                curves.add(record)
    return curves


class TrainingLog:
    """Appends records to `path` and keeps them as TrainingCurves for the plot. A resumed
    run first drops the records of the iterations it will repeat, so the file holds each
    iteration once and the plot shows the whole run."""

    def __init__(self, path, resumed_at):
        self.path = path
        if os.path.exists(path):
            trim_log(path, resumed_at)
            self.curves = read_log(path)
        else:
            self.curves = TrainingCurves()

    def append(self, record):
        with open(self.path, "a") as log:
            log.write(json.dumps(record) + "\n")
        self.curves.add(record)
