"""Speed figures the issues ask for (not tests: run them by hand and read the numbers).

    python benchmark.py resize [--count 3000] [--workers 2]
    python benchmark.py train --size 8 --batch 8 [--width 512] [--iters 5] [--fade]
    python benchmark.py generate --size 128 --batch 8 [--width 512]
"""
import argparse
import os
import shutil
import tempfile
import time

import numpy as np


def make_photo_like_sources(folder, count, size=128, seed=0):
    """JPEG files with smooth colour fields and grain: about as costly to decode as photos."""
    from PIL import Image

    os.makedirs(folder, exist_ok=True)
    rng = np.random.RandomState(seed)
    ramp = np.linspace(0, 1, size)
    for index in range(count):
        corners = rng.uniform(0, 255, (2, 2, 3))
        field = (corners[0, 0] * (1 - ramp[:, None, None]) * (1 - ramp[None, :, None])
                 + corners[0, 1] * (1 - ramp[:, None, None]) * ramp[None, :, None]
                 + corners[1, 0] * ramp[:, None, None] * (1 - ramp[None, :, None])
                 + corners[1, 1] * ramp[:, None, None] * ramp[None, :, None])
        pixels = np.clip(field + rng.normal(0, 12, field.shape), 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(os.path.join(folder, f"{index:05d}.jpg"), quality=90)


def bench_resize(args):
    import resize

    workdir = tempfile.mkdtemp()
    try:
        source = os.path.join(workdir, "128")
        make_photo_like_sources(source, args.count)
        summary = resize.resize_folder(source, min_size=8, workers=args.workers, progress=False)
        print(f"resize: {args.count} sources of 128 px -> 64..8 px with {args.workers} workers: "
              f"{summary['seconds']:.2f} s, {args.count / summary['seconds']:.0f} images/s")
        again = resize.resize_folder(source, min_size=8, workers=args.workers, progress=False)
        print(f"re-run (all up to date): {again['seconds']:.2f} s")
    finally:
        shutil.rmtree(workdir)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    resize_parser = sub.add_parser("resize")
    resize_parser.add_argument("--count", type=int, default=3000)
    resize_parser.add_argument("--workers", type=int, default=os.cpu_count())
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    {"resize": bench_resize}[args.what](args)


if __name__ == "__main__":
    main()
