"""Training curves as a picture: losses, penalty and speed over iterations, drawn with Pillow.

    python plot.py checkpoint/log.jsonl                 # writes checkpoint/log.png
    python plot.py checkpoint/log.jsonl --out curves.png

train.py redraws `sample/plot.png` at every sample grid, so collapse (D loss near 0 while
G's climbs) or divergence shows at a glance. Dotted lines mark where a new resolution begins.
"""
import argparse
import json
import os

import numpy as np
from PIL import Image, ImageDraw, ImageFont

# (title, log keys, colours) of each panel, top to bottom
PANELS = [("losses", ("d_loss", "g_loss"), ((200, 40, 40), (40, 90, 200))),
          ("penalty", ("penalty",), ((30, 140, 60),)),
          ("img/s", ("img_per_s",), ((120, 60, 160),))]
COLUMNS = ("iteration", "size", "d_loss", "g_loss", "penalty", "img_per_s")
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


def value_range(values):
    """The 1st to 99th percentile, widened a little, so one spike does not flatten a curve."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return 0.0, 1.0
    low, high = np.percentile(finite, [1, 99])
    if high - low < 1e-12:
        low, high = low - 0.5, high + 0.5
    margin = 0.08 * (high - low)
    return low - margin, high + margin


def tick_label(value):
    return f"{value:.3g}"


def draw_training_plot(curves, path, width=900, panel_height=200):
    """Write a PNG with one panel per entry of PANELS; x is the iteration."""
    from images import save_image_atomically

    font = ImageFont.load_default()
    left, right, top_pad, bottom_pad = 70, 20, 24, 26
    image = Image.new("RGB", (width, panel_height * len(PANELS)), "white")
    draw = ImageDraw.Draw(image)
    data = curves.columns()
    x = data["iteration"]
    x_low, x_high = (float(x.min()), float(x.max())) if len(x) else (0.0, 1.0)
    if x_high <= x_low:
        x_high = x_low + 1

    def to_px(value):
        return left + (value - x_low) / (x_high - x_low) * (width - left - right)

    for index, (title, keys, colours) in enumerate(PANELS):
        top = index * panel_height + top_pad
        bottom = (index + 1) * panel_height - bottom_pad
        draw.rectangle([left, top, width - right, bottom], outline=(160, 160, 160))
        stacked = np.concatenate([data[key] for key in keys]) if len(x) else np.array([])
        y_low, y_high = value_range(stacked)

        def to_py(value):
            clipped = min(max(value, y_low), y_high)
            return bottom - (clipped - y_low) / (y_high - y_low) * (bottom - top)

        for value in (y_low, (y_low + y_high) / 2, y_high):
            draw.text((4, to_py(value) - 6), tick_label(value), fill="black", font=font)
        for change in np.flatnonzero(np.diff(data["size"]) > 0) + 1:
            px = to_px(x[change])
            for y in range(int(top), int(bottom), 6):
                draw.line([px, y, px, y + 2], fill=(150, 150, 150))
            draw.text((px + 3, top + 2), f"{int(data['size'][change])}px", fill="gray", font=font)
        legend = left + 4
        for key, colour in zip(keys, colours):
            points = [(to_px(a), to_py(b)) for a, b in zip(x, data[key]) if np.isfinite(b)]
            if len(points) > 1:
                draw.line(points, fill=colour, width=1)
            elif points:
                draw.point(points, fill=colour)
            draw.text((legend, top - 16), key, fill=colour, font=font)
            legend += 8 * len(key) + 16
        draw.text((width - right - 180, top - 16), title, fill="black", font=font)
        draw.text((left, bottom + 4), tick_label(x_low), fill="black", font=font)
        draw.text((width - right - 60, bottom + 4), f"iter {tick_label(x_high)}", fill="black",
                  font=font)
    save_image_atomically(image, path)


def main(argv=None):
    from runtime import UsageError

    from images import WriteFailed

    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("log", help="a training log (checkpoint/log.jsonl)")
    parser.add_argument("--out", help="PNG to write (default: the log's name with .png)")
    args = parser.parse_args(argv)
    try:
        curves = read_log(args.log)
    except OSError as error:
        raise UsageError(f"{args.log}: cannot read ({error.strerror}); give a train.py log.jsonl")
    except UnicodeDecodeError:
        raise UsageError(f"{args.log}: not a text file; give a train.py log.jsonl") from None
    if not len(curves):
        raise UsageError(f"{args.log}: no training records in it; give a train.py log.jsonl")
    out = args.out or os.path.splitext(args.log)[0] + ".png"
    try:
        draw_training_plot(curves, out)
    except (OSError, WriteFailed) as error:
        raise UsageError(f"--out {out}: cannot write ({error.strerror or error}); "
                         "choose another file") from None
    print(f"wrote {out} ({len(curves)} points)")
    return out


if __name__ == "__main__":
    from runtime import run_cli

    run_cli(main)
