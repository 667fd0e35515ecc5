"""Training curves as a picture: losses, penalty and speed over iterations.

    python plot.py checkpoint/log.jsonl                 # writes checkpoint/log.png
    python plot.py checkpoint/log.jsonl --out curves.png

train.py redraws `sample/plot.png` at every sample grid, so collapse (D loss near 0 while
G's climbs) or divergence shows at a glance.
"""
import argparse
import os

from cli import DescriptionAndDefaults, UsageError, run_cli
from imaging import WriteFailed
from training.log import read_log
from training.plot import draw_training_plot


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=DescriptionAndDefaults)
    parser.add_argument("log", help="a training log (checkpoint/log.jsonl)")
    parser.add_argument("--out", help="PNG to write; none given = the log's name with .png")
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
    run_cli(main)
