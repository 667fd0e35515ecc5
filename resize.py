"""Build the per-resolution folders training reads: data/128 -> data/64, data/32, ...

    python resize.py data/128 --min_size 8          # your images, top size from the name
    python resize.py data/faces --size 256          # any folder name, explicit size
    python resize.py data/128 --lmdb data/lmdb      # also a rosinality-style LMDB
    python resize.py --demo data/demo               # MNIST demo set, no download
    python resize.py --demo data/few --digits 5-9 --count 200   # 200 digits of 5 to 9
    python resize.py data/128 --labels folders      # class labels: data/128/cat/*.jpg, dog/...
    python resize.py data/raw --size 256 --fit pad  # pad to squares: data/256, data/128, ...

Labels (for train.py --cond) come from a dataset.json in the source folder as stylegan2-ada
writes it ({"labels": [["cat/0001.jpg", 0], ...]}) or from one subfolder per class; every
resolution folder (and the LMDB) gets them. The demo's digits are labelled.

Sources are never modified. Outputs are PNG, square RGB of exactly their size, written
atomically, and skipped when already newer than their source.
"""
import argparse
import os
import sys

from cli import UsageError
from imaging.resizing import (ResizeError, build_demo, parse_digit_classes, resize_folder,
                              write_lmdb)


def parse_args(argv):
    parser = argparse.ArgumentParser(description="Build per-resolution image folders.",
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("source", nargs="?", help="folder of images; its name is the top size")
    parser.add_argument("--size", type=int, help="top size when the folder name is not a number")
    parser.add_argument("--min_size", type=int, default=8, help="smallest size")
    parser.add_argument("--workers", type=int, help="processes; none given = all cores")
    parser.add_argument("--lmdb", metavar="OUT", help="also write a rosinality-style LMDB")
    parser.add_argument("--demo", metavar="ROOT",
                        help="build the MNIST demo set in ROOT/32 (from jittor-offline's files), "
                             "then its smaller sizes")
    parser.add_argument("--count", type=int, default=10000, help="demo images")
    parser.add_argument("--digits", metavar="CLASSES",
                        help="with --demo: only these digits, as 5-9 or 0,2,4 (e.g. to "
                             "pretrain on some and fine-tune on others)")
    parser.add_argument("--labels", choices=("auto", "json", "folders", "none"), default="auto",
                        help="class labels: from the source's dataset.json, from one subfolder "
                             "per class, none; auto = dataset.json when there is one, else "
                             "subfolders when every image is in one (two classes or more)")
    parser.add_argument("--fit", choices=("crop", "pad"), default="crop",
                        help="non-square images: centre-crop them, or pad them to a square "
                             "with black (as NVIDIA's code did for LSUN cars; the source folder "
                             "must then be named other than its size)")
    args = parser.parse_args(argv)
    args.workers = os.cpu_count() if args.workers is None else args.workers
    if (args.source is None) == (args.demo is None):
        parser.error("give a source folder, or --demo ROOT")
    return args


def report(summary):
    print(f"{summary['sources']} images at {summary['size']} px -> {summary['sizes']} px: "
          f"{summary['written']} written, {summary['up_to_date']} already up to date, "
          f"in {summary['seconds']:.1f} s "
          f"({summary['sources'] / max(summary['seconds'], 1e-9):.0f} images/s)")
    names = summary["class_names"]
    if names:
        shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
        print(f"labels: {len(names)} classes ({shown}), in dataset.json of every size folder "
              "(train with --cond)")
    if summary["failures"]:
        print(f"{len(summary['failures'])} unreadable files skipped; "
              f"their names are in {summary['log']}")


def main(argv=None):
    args = parse_args(argv)
    try:
        for name in ("workers", "count"):
            if getattr(args, name) < 1:
                raise ResizeError(f"--{name} {getattr(args, name)}: must be at least 1")
        if args.lmdb:  # fail before the resizing work, not after it
            try:
                os.makedirs(args.lmdb, exist_ok=True)
            except OSError as error:
                raise ResizeError(f"--lmdb {args.lmdb}: cannot create it ({error.strerror})")
        classes = None
        if args.digits:
            try:
                classes = parse_digit_classes(args.digits)
            except ValueError as error:
                raise ResizeError(f"--digits {error}") from None
        source = build_demo(args.demo, args.count, classes=classes) if args.demo else args.source
        size = 32 if args.demo else args.size
        summary = resize_folder(source, size, args.min_size, args.workers, labels=args.labels,
                                fit=args.fit)
        report(summary)
        if args.lmdb:
            count = write_lmdb(source, args.lmdb, summary["size"], args.min_size, args.workers,
                               labels=args.labels, fit=args.fit)
            sizes = sorted({summary["size"], *summary["sizes"]}, reverse=True)
            print(f"wrote {count} images at {sizes} px to {args.lmdb}")
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    except OSError as error:
        print(f"error: {error.filename or ''}: {error.strerror or error}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
