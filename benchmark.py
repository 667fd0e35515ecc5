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
    python benchmark.py overhead [--peer rosinality_step.py --python /path/to/torch/python]
    python benchmark.py concurrent [--seconds 40]   # two Jittor jobs on the same cores
    python benchmark.py profile --size 64 --device cuda --out profile.json
    python benchmark.py explore [--sizes 16 32 128]   # explore.py: request to image
    python benchmark.py digits_fid checkpoint/last.model [--count 1000] [--size 16]   # against MNIST test digits
    python benchmark.py onnx [--sizes 32 128] [--batch 8]   # export, file size, onnxruntime vs ours
    python benchmark.py finetune --root runs/finetune [--counts 1000 200] [--seeds 0 1 2]
"""
import argparse
import os
import sys

from benchmarks import concurrency, finetune, kernel_profile, ours, overhead, peers
from cli import DescriptionAndDefaults


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=DescriptionAndDefaults)
    sub = parser.add_subparsers(dest="what", required=True)

    def command(name, description):
        return sub.add_parser(name, help=description, description=description,
                              formatter_class=argparse.ArgumentDefaultsHelpFormatter)

    def device(parser_, default="auto"):
        parser_.add_argument("--device", default=default, help="auto, cpu or cuda")

    def model_size(parser_, size, batch, iters, width_help="model width"):
        parser_.add_argument("--size", type=int, default=size, help="resolution")
        parser_.add_argument("--batch", type=int, default=batch, help="batch size")
        parser_.add_argument("--width", type=int, default=512, help=width_help)
        parser_.add_argument("--code_dim", type=int, default=512, help="size of z and w")
        parser_.add_argument("--iters", type=int, default=iters, help="timed iterations")

    resize_parser = command("resize", "resize.py's speed on photo-like 128 px JPEG sources")
    resize_parser.add_argument("--count", type=int, default=3000, help="source images")
    resize_parser.add_argument("--workers", type=int, help="processes; none given = all cores")
    command("cuda_compile", "build Jittor's CUDA parts without a GPU "
                            "(= python -m cuda13.compile_check)")
    versus = command("versus_jittor", "ours against StyleGAN-jittor's model, same process, "
                                      "alternating rounds")
    versus.add_argument("--peer", required=True, help="StyleGAN-jittor's model.py")
    versus.add_argument("--sizes", type=int, nargs="+", default=[8, 16, 32], help="resolutions")
    versus.add_argument("--batch", type=int, default=8, help="batch size")
    versus.add_argument("--code_dim", type=int, default=512, help="size of z and w")
    versus.add_argument("--iters", type=int, default=4, help="iterations per round")
    versus.add_argument("--penalty_every", type=int, default=1,
                        help="our loop's lazy R1 (theirs computes it every iteration)")
    versus.add_argument("--rounds", type=int, default=3, help="alternating rounds")
    versus.add_argument("--precision", default="auto",
                        help="of our convolutions (train.py's --precision)")
    device(versus)
    pytorch = command("versus_pytorch", "ours against a PyTorch peer's step script, each size "
                                        "in fresh processes")
    pytorch.add_argument("--peer", required=True, help="the peer's step-timing script")
    pytorch.add_argument("--python", help="a Python that has PyTorch; none given = this one")
    pytorch.add_argument("--sizes", type=int, nargs="+", default=[32, 64, 128], help="resolutions")
    pytorch.add_argument("--batch", type=int, default=32, help="batch size")
    pytorch.add_argument("--iters", type=int, default=10, help="timed iterations")
    pytorch.add_argument("--width", type=int, default=512, help="ours; the peer's is full")
    pytorch.add_argument("--code_dim", type=int, default=512, help="size of z and w")
    device(pytorch, "cuda")
    host = command("overhead", "one iteration's host cost where the arithmetic is small: "
                               "ours split into graph building, executor and kernels, with "
                               "its operator count, beside rosinality's PyTorch step on the CPU")
    host.add_argument("--peer", help="rosinality_step.py (../shared/reference/peers/); "
                                     "none given = ours only")
    host.add_argument("--python", help="a Python that has PyTorch; none given = this one")
    model_size(host, 8, 2, 20, "ours; the peer's is full (rosinality mixes from 8 px)")
    concurrent = command("concurrent", "two Jittor training jobs on the same cores: each "
                                       "alone, then both at once")
    concurrent.add_argument("--seconds", type=float, default=40, help="timed run of each job")
    concurrent.add_argument("--size", type=int, default=32, help="resolution")
    concurrent.add_argument("--width", type=int, default=32, help="model width")
    concurrent.add_argument("--batch", type=int, default=32, help="batch size")
    concurrent.add_argument("--wait_policy", nargs="+", default=["all"],
                            help="OpenMP settings of both jobs: ours (runtime.py's), 'libgomp "
                                 "default', passive, 'spin N' (N spins before sleeping), or all")
    kernels = command("profile", "one full-width iteration: kernel time by kind, graph "
                                 "building against executing, memory (JSON)")
    model_size(kernels, 64, 32, 5)
    kernels.add_argument("--out", help="also write the JSON here")
    device(kernels)
    explorer = command("explore", "explore.py's time from request to image, full width")
    explorer.add_argument("--sizes", type=int, nargs="+", default=[16, 32, 128],
                          help="resolutions")
    explorer.add_argument("--width", type=int, default=512, help="model width")
    explorer.add_argument("--code_dim", type=int, default=512, help="size of z and w")
    explorer.add_argument("--requests", type=int, default=20, help="timed requests per size")
    device(explorer)
    digits_fid = command("digits_fid", "FID against held-out MNIST test digits, with the real "
                                       "floor")
    digits_fid.add_argument("ckpt", nargs="*", help="demo checkpoints trained to --size")
    digits_fid.add_argument("--size", type=int, default=32, choices=(8, 16, 32),
                            help="resolution: the digits padded to 32 px as resize.py --demo "
                                 "writes them, then resized as resize.py does")
    digits_fid.add_argument("--count", type=int, default=1000, help="images on each side")
    digits_fid.add_argument("--digits", metavar="CLASSES",
                            help="only these classes' digits, as 5-9 (fine-tuning's FID)")
    device(digits_fid)
    halves = command("fid_halves", "FID between two halves of a real image set (the floor)")
    halves.add_argument("data", help="data root")
    halves.add_argument("--size", type=int, default=32, help="resolution")
    halves.add_argument("--count", type=int, default=4000, help="images in both halves")
    device(halves)
    projection = command("projection", "projection of held-out MNIST test digits")
    projection.add_argument("ckpt", help="a demo checkpoint")
    projection.add_argument("--count", type=int, default=100, help="digits, in one batch")
    projection.add_argument("--steps", type=int, nargs="+", default=[100, 300, 1000],
                            help="optimisation steps to measure")
    projection.add_argument("--spaces", nargs="+", default=["w", "w+"], help="latent spaces")
    device(projection)
    official = command("official", "load and generate from a pickle of NVIDIA's layout")
    official.add_argument("--size", type=int, default=1024, help="resolution of the pickle")
    official_load = command("official_load", "the loading half of `official`, in its own process")
    official_load.add_argument("path", help="the pickle")
    for parser_ in (official, official_load):
        parser_.add_argument("--iters", type=int, default=3, help="timed batches")
        parser_.add_argument("--batch", type=int, default=1, help="batch size")
        device(parser_)
    for name, default_size, description in (
            ("train", 8, "one training iteration (D with R1, G with mixing, EMA)"),
            ("generate", 128, "batched generation with the generator"),
            ("inception", 32, "FID feature extraction (resize to 299 px, Inception-v3)")):
        model_parser = command(name, description)
        model_size(model_parser, default_size, 8, 5)
        model_parser.add_argument("--loss", default="r1", help="train.py's --loss")
        device(model_parser)
    sub.choices["train"].add_argument("--precision", default="auto",
                                      help="of the convolutions (train.py's --precision)")
    onnx_parser = command("onnx", "ONNX export of a full-width generator: export time, file "
                                  "size, onnxruntime's img/s beside ours")
    onnx_parser.add_argument("--sizes", type=int, nargs="+", default=[32, 128], help="resolutions")
    onnx_parser.add_argument("--batch", type=int, default=8, help="batch size")
    onnx_parser.add_argument("--iters", type=int, default=5, help="timed batches")
    tune = command("finetune", "the fine-tuning recipe on MNIST: pretrain on digits 0-4 (the "
                               "demo's command), fine-tune on a few of 5-9 at 16 px, compared "
                               "at equal minutes with training from scratch")
    tune.add_argument("--root", required=True, help="folder for the data, runs and checkpoints "
                                                    "(finished runs are kept and not rerun)")
    tune.add_argument("--counts", type=int, nargs="+", default=[1000, 200],
                      help="fine-tuning images (the first of MNIST's training digits 5-9)")
    tune.add_argument("--arms", nargs="+", default=["scratch", "fine-tuned", "ada", "ada-freeze"],
                      choices=["scratch", "fine-tuned", "ada", "ada-freeze"],
                      help="from scratch (the demo's command), --from the pretrained model, "
                           "with --augment ada, and --freeze_d 1 as well")
    tune.add_argument("--seeds", type=int, nargs="+", default=[0], help="train.py's --seed")
    tune.add_argument("--clock_seed", type=int, default=0,
                      help="the seed whose run's clock sets every seed's minute marks (run it "
                           "alone on the machine)")
    tune.add_argument("--iters", type=int, default=6000, help="iterations of every arm")
    tune.add_argument("--save_every", type=int, default=500, help="checkpoint interval")
    tune.add_argument("--pretrain_iters", type=int, default=6000, help="on digits 0-4")
    tune.add_argument("--lr", type=float, default=0.002, help="fine-tuning learning rate")
    tune.add_argument("--ada_kimg", type=float, default=100, help="train.py's --ada_kimg")
    tune.add_argument("--minutes", type=float, nargs="+", default=[1, 2.5, 5],
                      help="minute marks at which the arms are compared")
    tune.add_argument("--fid_minutes", type=float, nargs="+", default=[5],
                      help="marks that also get FID (1,000 samples: about 2 minutes each)")
    tune.add_argument("--no_evaluation", action="store_true", help="train only")
    args = parser.parse_args(argv)
    if getattr(args, "workers", 0) is None:
        args.workers = os.cpu_count()
    if getattr(args, "python", 0) is None:
        args.python = sys.executable
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.what == "cuda_compile":
        from cuda13 import compile_check

        return compile_check.main()
    {"resize": ours.bench_resize, "train": ours.bench_train, "generate": ours.bench_generate,
     "inception": ours.bench_inception, "fid_halves": ours.bench_fid_halves,
     "official": ours.bench_official, "official_load": ours.bench_official_load,
     "projection": ours.bench_projection, "versus_jittor": peers.bench_versus_jittor,
     "versus_pytorch": peers.bench_versus_pytorch, "overhead": overhead.bench_overhead,
     "profile": kernel_profile.bench_profile, "explore": ours.bench_explore,
     "digits_fid": ours.bench_digits_fid, "onnx": ours.bench_onnx,
     "finetune": finetune.bench_finetune,
     "concurrent": concurrency.bench_concurrent}[args.what](args)


if __name__ == "__main__":
    main()
