"""Speed figures the issues ask for (not tests: run them by hand and read the numbers).

    python benchmark.py resize [--count 3000] [--workers 2]
    python benchmark.py train --size 8 --batch 8 [--width 512] [--iters 5]
    python benchmark.py generate --size 128 --batch 8 [--width 512]
    python benchmark.py inception --size 32 --batch 16
    python benchmark.py fid_halves data/demo --size 32 --count 4000
    python benchmark.py official [--size 1024] [--iters 3]   # NVIDIA-layout pickle
    python benchmark.py projection checkpoint/last.model --count 100 --steps 100 300 1000
    python benchmark.py cuda_compile     # = python -m cuda13.compile_check (no GPU needed)
    python benchmark.py versus_jittor --peer StyleGAN-jittor/model.py [--sizes 8 16 32]
    python benchmark.py versus_pytorch --peer rosinality_step.py --python /path/to/torch/python
"""
import argparse
import os
import sys

from benchmarks import ours, peers


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    resize_parser = sub.add_parser("resize")
    resize_parser.add_argument("--count", type=int, default=3000)
    resize_parser.add_argument("--workers", type=int, default=os.cpu_count())
    sub.add_parser("cuda_compile")
    versus = sub.add_parser("versus_jittor")
    versus.add_argument("--peer", required=True, help="StyleGAN-jittor's model.py")
    versus.add_argument("--sizes", type=int, nargs="+", default=[8, 16, 32])
    versus.add_argument("--batch", type=int, default=8)
    versus.add_argument("--code_dim", type=int, default=512)
    versus.add_argument("--iters", type=int, default=4)
    versus.add_argument("--penalty_every", type=int, default=1,
                        help="our loop's lazy R1 (theirs computes it every iteration)")
    versus.add_argument("--rounds", type=int, default=3)
    versus.add_argument("--precision", default="auto",
                        help="of our convolutions (train.py's --precision)")
    versus.add_argument("--device", default="auto")
    pytorch = sub.add_parser("versus_pytorch")
    pytorch.add_argument("--peer", required=True, help="the peer's step-timing script")
    pytorch.add_argument("--python", default=sys.executable,
                         help="a Python that has PyTorch (the peer's), default this one")
    pytorch.add_argument("--sizes", type=int, nargs="+", default=[32, 64, 128])
    pytorch.add_argument("--batch", type=int, default=32)
    pytorch.add_argument("--iters", type=int, default=10)
    pytorch.add_argument("--width", type=int, default=512, help="ours; the peer's is full")
    pytorch.add_argument("--code_dim", type=int, default=512)
    pytorch.add_argument("--device", default="cuda")
    halves = sub.add_parser("fid_halves")
    halves.add_argument("data")
    halves.add_argument("--size", type=int, default=32)
    halves.add_argument("--count", type=int, default=4000)
    halves.add_argument("--device", default="auto")
    projection = sub.add_parser("projection")
    projection.add_argument("ckpt")
    projection.add_argument("--count", type=int, default=100)
    projection.add_argument("--steps", type=int, nargs="+", default=[100, 300, 1000])
    projection.add_argument("--spaces", nargs="+", default=["w", "w+"])
    projection.add_argument("--device", default="auto")
    official = sub.add_parser("official")
    official.add_argument("--size", type=int, default=1024)
    official_load = sub.add_parser("official_load")
    official_load.add_argument("path")
    for command in (official, official_load):
        command.add_argument("--iters", type=int, default=3)
        command.add_argument("--batch", type=int, default=1)
        command.add_argument("--device", default="auto")
    for name, default_size in (("train", 8), ("generate", 128), ("inception", 32)):
        model_parser = sub.add_parser(name)
        model_parser.add_argument("--size", type=int, default=default_size)
        model_parser.add_argument("--batch", type=int, default=8)
        model_parser.add_argument("--width", type=int, default=512)
        model_parser.add_argument("--code_dim", type=int, default=512)
        model_parser.add_argument("--iters", type=int, default=5)
        model_parser.add_argument("--loss", default="r1")
        model_parser.add_argument("--device", default="auto")
    sub.choices["train"].add_argument("--precision", default="auto",
                                      help="of the convolutions (train.py's --precision)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.what == "cuda_compile":
        from cuda13 import compile_check

        return compile_check.main()
    {"resize": ours.bench_resize, "train": ours.bench_train, "generate": ours.bench_generate,
     "inception": ours.bench_inception, "fid_halves": ours.bench_fid_halves,
     "official": ours.bench_official, "official_load": ours.bench_official_load,
     "projection": ours.bench_projection, "versus_jittor": peers.bench_versus_jittor,
     "versus_pytorch": peers.bench_versus_pytorch}[args.what](args)


if __name__ == "__main__":
    main()
