"""Speed figures the issues ask for (not tests: run them by hand and read the numbers).

    python benchmark.py resize [--count 3000] [--workers 2]
    python benchmark.py train --size 8 --batch 8 [--width 512] [--iters 5]
    python benchmark.py generate --size 128 --batch 8 [--width 512]
    python benchmark.py inception --size 32 --batch 16
    python benchmark.py fid_halves data/demo --size 32 --count 4000
    python benchmark.py official [--size 1024] [--iters 3]   # NVIDIA-layout pickle
    python benchmark.py projection checkpoint/last.model --count 100 --steps 100 300 1000
    python benchmark.py cuda_compile     # builds Jittor's CUDA parts; no GPU needed
    python benchmark.py versus_jittor --peer StyleGAN-jittor/model.py [--sizes 8 16 32]
    python benchmark.py versus_pytorch --peer rosinality_step.py --python /path/to/torch/python
"""
import argparse
import os
import shutil
import subprocess
import sys
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


def bench_train(args):
    """img/s of one full training iteration: D step with R1 + G step, mixing on, EMA."""
    import train
    from model import conv_precision, step_of_size
    from runtime import jt, seed_everything, select_device

    select_device(args.device)
    seed_everything(0)
    train_args, _ = train.parse_args(["unused", "--width", str(args.width), "--code_dim",
                                      str(args.code_dim), "--batch", str(args.batch),
                                      "--loss", args.loss, "--precision", args.precision])
    state = train.TrainingState(train_args)
    step = step_of_size(args.size)
    real = jt.array(np.random.RandomState(0).uniform(-1, 1, (args.batch, 3, args.size, args.size))
                    .astype(np.float32)).stop_grad()

    def iteration(alpha):
        train.training_step(state, real, train.Plan(step, alpha, args.batch, 0.001))

    def timed(alphas):
        jt.sync_all(True)
        started = time.time()
        for alpha in alphas:
            iteration(alpha)
        jt.sync_all(True)
        return (time.time() - started) / len(alphas)

    for alpha in (1.0, 0.5, 1.0, 0.3):  # compile both graphs once
        iteration(alpha)
    rng = np.random.RandomState(1)
    stable = timed([1.0] * args.iters)
    fading = timed(list(rng.uniform(0.05, 0.95, args.iters)))
    print(f"train {args.size} px, batch {args.batch}, width {args.width}, "
          f"code_dim {args.code_dim}, {args.loss}, {conv_precision()} convolutions: "
          f"{stable:.3f} s/iteration = {args.batch / stable:.2f} img/s at alpha 1; "
          f"{args.batch / fading:.2f} img/s while fading ({fading / stable - 1:+.1%})")


def bench_generate(args):
    """img/s of batched generation with the EMA generator (no gradients)."""
    from model import StyledGenerator, step_of_size
    from runtime import jt, select_device

    select_device(args.device)
    g = StyledGenerator(code_dim=args.code_dim, width=args.width)
    step = step_of_size(args.size)
    with jt.no_grad():
        g(jt.randn(args.batch, args.code_dim), step=step).sync()
        jt.sync_all(True)
        started = time.time()
        for _ in range(args.iters):
            g(jt.randn(args.batch, args.code_dim), step=step).numpy()
        seconds = (time.time() - started) / args.iters
    print(f"generate {args.size} px, batch {args.batch}, width {args.width}: "
          f"{args.batch / seconds:.2f} img/s")


def bench_inception(args):
    """img/s of FID feature extraction (resize to 299 px + Inception-v3)."""
    from perceptual.inception import InceptionV3
    from runtime import jt, select_device

    select_device(args.device)
    net = InceptionV3()
    images = jt.array(np.random.RandomState(0).randint(0, 256, (args.batch, 3, args.size,
                                                                   args.size)).astype(np.uint8))
    with jt.no_grad():
        net(images).numpy()
        started = time.time()
        for _ in range(args.iters):
            net(images).numpy()
        seconds = (time.time() - started) / args.iters
    print(f"inception: {args.size} px inputs, batch {args.batch}: {args.batch / seconds:.1f} img/s")


def bench_fid_halves(args):
    """FID between two disjoint halves of a real image set: the floor a perfect model reaches."""
    import metrics
    from dataset import MultiResolutionDataset
    from perceptual.inception import InceptionV3
    from runtime import select_device

    select_device(args.device)
    net = InceptionV3()
    data = MultiResolutionDataset(args.data, args.size, flip=False)
    count = min(args.count, len(data.source.files(args.size))) // 2 * 2
    started = time.time()
    features = metrics.inception_features(net, metrics.real_batches(data, args.size, count, 32),
                                          count, "real")
    seconds = time.time() - started
    order = np.random.RandomState(0).permutation(count)
    halves = [metrics.statistics(features[order[i::2]]) for i in (0, 1)]
    print(f"FID of {count // 2} vs {count // 2} real {args.size} px images of {args.data}: "
          f"{metrics.frechet_distance(*halves[0], *halves[1]):.3f} "
          f"(features at {count / seconds:.1f} img/s)")


def memory_mb(field):
    """This process's resident (VmRSS) or peak resident (VmHWM) memory, from /proc."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def bench_official(args):
    """Load time and peak memory of an NVIDIA-layout pickle with the released models' sizes
    (random values; test/official_writer.py writes it), then generation img/s from it.
    Loading runs in a fresh process, so its peak memory is its own."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "test"))
    from official_writer import official_pickle

    workdir = tempfile.mkdtemp()
    try:
        path = os.path.join(workdir, f"official_{args.size}.pkl")
        started = time.time()
        with open(path, "wb") as stream:
            stream.write(official_pickle(args.size))
        print(f"wrote an official-layout {args.size} px pickle: "
              f"{os.path.getsize(path) / 2**20:.0f} MiB in {time.time() - started:.1f} s")
        subprocess.run([sys.executable, os.path.abspath(__file__), "official_load", path,
                        "--iters", str(args.iters), "--batch", str(args.batch),
                        "--device", args.device], check=True)
    finally:
        shutil.rmtree(workdir)


def bench_official_load(args):
    from runtime import jt, select_device
    import checkpoint
    import generate

    select_device(args.device)
    before = memory_mb("VmRSS")
    started = time.time()
    generator, ckpt = checkpoint.load_generator(args.path)
    seconds = time.time() - started
    print(f"load_generator: {seconds:.1f} s, peak memory {memory_mb('VmHWM') - before:.0f} MiB "
          f"above the {before:.0f} MiB of the process before")
    started = time.time()
    checkpoint.load_discriminator(args.path)
    print(f"load_discriminator: {time.time() - started:.1f} s")
    converted = args.path + ".model"
    started = time.time()
    checkpoint.convert(args.path, converted)
    print(f"convert to ours: {time.time() - started:.1f} s, "
          f"{os.path.getsize(converted) / 2**20:.0f} MiB")
    started = time.time()
    checkpoint.load_generator(converted)
    print(f"load_generator of the converted file: {time.time() - started:.1f} s")

    step = len(ckpt["noise"]) // 2 - 1
    render = generate.Renderer(generator, step, 1.0, generator.w_avg.reshape(1, -1), 0.7, 8,
                               args.batch, generate.stored_noise(None, ckpt, args.path))
    rng = np.random.RandomState(0)

    def images():
        z = rng.randn(args.batch, generator.w_avg.shape[0]).astype(np.float32)
        return render(z, render.noise(rng, args.batch))

    started = time.time()
    first = images()
    print(f"first batch (compiles each op shape once): {time.time() - started:.1f} s, "
          f"values in [{first.min():.2f}, {first.max():.2f}]")
    jt.sync_all(True)
    started = time.time()
    for _ in range(args.iters):
        images()
    seconds = (time.time() - started) / args.iters
    print(f"generate {4 * 2**step} px from it, batch {args.batch}: {args.batch / seconds:.3f} "
          f"img/s ({seconds:.1f} s per batch), peak memory {memory_mb('VmHWM'):.0f} MiB")


def bench_projection(args):
    """Projection of held-out MNIST test digits (never trained on) with a demo checkpoint:
    median LPIPS and PSNR, the share whose classifier label survives, seconds per step."""
    import digits
    import projector
    from checkpoint import load_generator, trained_resolution
    from perceptual.lpips import LPIPS
    from model import step_of_size
    from runtime import select_device

    select_device(args.device)
    generator, checkpoint = load_generator(args.ckpt)
    size, alpha = trained_resolution(checkpoint)
    grey, labels = digits.mnist_grey("t10k")
    targets = np.repeat(grey[:args.count, None] * 2 - 1, 3, 1).astype(np.float32)
    classifier, lpips = digits.trained_classifier(), LPIPS()

    def label_of(images):
        return digits.image_probabilities(classifier, images).argmax(1)

    target_labels = label_of(targets)
    for space in args.spaces:
        for steps in args.steps:
            started = time.time()
            reconstructions, projection = projector.project(
                generator, targets, step_of_size(size), alpha, lpips, space, steps,
                progress=False)
            seconds = (time.time() - started) / steps
            kept = (label_of(reconstructions) == target_labels).mean()
            print(f"{space:2} {steps:5} steps, {args.count} digits: median LPIPS "
                  f"{np.median(projection.lpips):.4f}, median PSNR {np.median(projection.psnr):.2f} "
                  f"dB, label kept {kept:.0%}, {seconds:.2f} s per step", flush=True)


def load_peer_model(path):
    """StyleGAN-jittor's model.py (github.com/xUhEngwAng/StyleGAN-jittor, MIT licence), read
    from the user's clone: it is not part of this project."""
    import importlib.util

    if not os.path.isfile(path):  # one line, exit status 1
        raise SystemExit(f"error: --peer {path}: no such file; git clone "
                         f"https://github.com/xUhEngwAng/StyleGAN-jittor and give its model.py")
    spec = importlib.util.spec_from_file_location("stylegan_jittor_model", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class PeerTraining:
    """StyleGAN-jittor's training iteration as its train.py runs it: D (softplus losses,
    R1 with gamma 10 on reals), then G with mixing 90% of the time, then the EMA copy."""

    def __init__(self, peer, code_dim, lr=0.001):
        from runtime import jt

        self.jt, self.code_dim = jt, code_dim
        self.generator = peer.StyledGenerator(code_dim=code_dim)
        self.discriminator = peer.Discriminator(from_rgb_activate=True)
        self.g_running = peer.StyledGenerator(code_dim)
        self.g_running.eval()
        self.d_optimizer = jt.optim.Adam(self.discriminator.parameters(), lr=lr, betas=(0.0, 0.99))
        self.g_optimizer = jt.optim.Adam(self.generator.generator.parameters(), lr=lr,
                                         betas=(0.0, 0.99))
        self.g_optimizer.add_param_group({"params": self.generator.style.parameters(),
                                          "lr": lr * 0.01, "mult": 0.01})
        self.accumulate(0)

    def accumulate(self, decay=0.999):
        running = dict(self.g_running.named_parameters())
        for name, value in self.generator.named_parameters():
            if name in running:  # not the weights EqualLR's hook derives in a forward
                running[name].update(running[name] * decay + (1 - decay) * value.detach())

    def latents(self, batch):
        jt = self.jt
        if np.random.random() < 0.9:
            return [jt.randn(batch, self.code_dim), jt.randn(batch, self.code_dim)]
        return jt.randn(batch, self.code_dim)

    def iteration(self, real, step, alpha):
        jt = self.jt
        for p in self.generator.parameters():
            p.requires_grad = False
        real = real.clone()
        real.requires_grad = True
        real_scores = self.discriminator(real, step=step, alpha=alpha)
        gradient = jt.grad(real_scores.sum(), real)
        penalty = 5 * (gradient.reshape(gradient.shape[0], -1).norm(2, dim=1) ** 2).mean()
        fake = self.generator(self.latents(real.shape[0]), step=step, alpha=alpha)
        d_loss = (jt.nn.softplus(-real_scores).mean() + penalty
                  + jt.nn.softplus(self.discriminator(fake, step=step, alpha=alpha)).mean())
        self.d_optimizer.step(d_loss)
        for p in self.generator.parameters():
            p.requires_grad = True
        for p in self.discriminator.parameters():
            p.requires_grad = False
        fake = self.generator(self.latents(real.shape[0]), step=step, alpha=alpha)
        g_loss = jt.nn.softplus(-self.discriminator(fake, step=step, alpha=alpha)).mean()
        self.g_optimizer.step(g_loss)
        self.accumulate()
        for p in self.discriminator.parameters():
            p.requires_grad = True


def same_loop_iteration(generator, discriminator, optimizers, real, code_dim, step, alpha):
    """One loop for both projects' models: D with R1 on reals, G, Adam on all parameters."""
    from runtime import jt

    d_optimizer, g_optimizer = optimizers
    real = real.clone()
    real.start_grad()
    real_scores = discriminator(real, step=step, alpha=alpha)
    gradient = jt.grad(real_scores.sum(), real)
    penalty = 5 * (gradient.reshape(gradient.shape[0], -1).sqr().sum(1)).mean()
    fake = generator(jt.randn(real.shape[0], code_dim), step=step, alpha=alpha).detach()
    d_loss = (jt.nn.softplus(-real_scores).mean() + penalty
              + jt.nn.softplus(discriminator(fake, step=step, alpha=alpha)).mean())
    d_optimizer.step(d_loss)
    fake = generator(jt.randn(real.shape[0], code_dim), step=step, alpha=alpha)
    g_loss = jt.nn.softplus(-discriminator(fake, step=step, alpha=alpha)).mean()
    g_optimizer.step(g_loss)


def bench_versus_jittor(args):
    """Ours against StyleGAN-jittor in one process, alternating, at each size: each project's
    own training iteration, then both models in one identical loop."""
    import train
    from model import conv_precision, step_of_size
    from runtime import jt, seed_everything, select_device

    peer = load_peer_model(args.peer)
    select_device(args.device)
    seed_everything(0)
    train_args, _ = train.parse_args(["unused", "--batch", str(args.batch), "--loss", "r1",
                                      "--mixing", "--code_dim", str(args.code_dim),
                                      "--penalty_every", str(args.penalty_every),
                                      "--precision", args.precision])
    ours = train.TrainingState(train_args)
    theirs = PeerTraining(peer, args.code_dim)
    print(f"our convolutions: {conv_precision()}; StyleGAN-jittor's: float32", flush=True)

    def adam(module):
        return jt.optim.Adam(module.parameters(), lr=0.001, betas=(0.0, 0.99))

    our_optimizers = [adam(ours.discriminator), adam(ours.generator)]
    their_optimizers = [adam(theirs.discriminator), adam(theirs.generator)]

    def our_iteration(real, step, alpha):
        train.training_step(ours, real, train.Plan(step, alpha, args.batch, 0.001))
        ours.iteration += 1  # where lazy regularisation counts

    def our_model_in_the_same_loop(real, step, alpha):
        train.train_everything(ours)  # the identical loop trains every parameter
        same_loop_iteration(ours.generator, ours.discriminator, our_optimizers, real,
                            args.code_dim, step, alpha)

    def their_model_in_the_same_loop(real, step, alpha):
        same_loop_iteration(theirs.generator, theirs.discriminator, their_optimizers, real,
                            args.code_dim, step, alpha)

    runs = {("own loop", "ours"): our_iteration, ("own loop", "theirs"): theirs.iteration,
            ("same loop", "ours"): our_model_in_the_same_loop,
            ("same loop", "theirs"): their_model_in_the_same_loop}

    def seconds_per_iteration(run, real, step):
        jt.sync_all(True)
        started = time.time()
        for _ in range(args.iters):
            run(real, step, 1.0)
        jt.sync_all(True)
        return (time.time() - started) / args.iters

    for size in args.sizes:
        step = step_of_size(size)
        real = jt.array(np.random.RandomState(0).uniform(-1, 1, (args.batch, 3, size, size))
                        .astype(np.float32)).stop_grad()
        for run in runs.values():  # compile every graph before timing
            run(real, step, 1.0)
            run(real, step, 1.0)
        times = {key: [] for key in runs}
        for _ in range(args.rounds):
            for key, run in runs.items():
                times[key].append(seconds_per_iteration(run, real, step))
        for loop in ("own loop", "same loop"):
            mine, peer_time = (np.median(times[(loop, who)]) for who in ("ours", "theirs"))
            print(f"{size:3d} px, batch {args.batch}, {loop}: ours {args.batch / mine:.2f} img/s, "
                  f"StyleGAN-jittor {args.batch / peer_time:.2f} img/s, ratio "
                  f"{peer_time / mine:.2f}x (medians of {args.rounds} alternating rounds of "
                  f"{args.iters} iterations; ratios per round "
                  + " ".join(f"{t / m:.2f}" for m, t in zip(times[(loop, "ours")],
                                                         times[(loop, "theirs")])) + ")",
                  flush=True)


_CUDA_BUILD_REPORT = """
import sys, time
sys.path.insert(0, %r)
started = time.time()
import runtime
from jittor import compile_extern, compiler
print("set-up:", runtime.cuda_setup)
print("Jittor's core built with CUDA:", bool(compiler.has_cuda),
      "(import took %%.0f s)" %% (time.time() - started))
for name in ("cublas", "cudnn", "curand", "cufft", "cusparse", "cub"):
    built = getattr(compile_extern, name + "_ops", None) is not None
    print(f"  {name} wrapper:", "compiled and loaded" if built else "not built")
"""


def bench_cuda_compile(args):
    """Build Jittor's CUDA core and library wrappers through runtime.py's preparation, in a
    child process that prepares CUDA even without a GPU (nothing runs on one)."""
    environment = dict(os.environ, STYLEGAN_CUDA_COMPILE_CHECK="1")
    here = os.path.dirname(os.path.abspath(__file__))
    started = time.time()
    result = subprocess.run([sys.executable, "-c", _CUDA_BUILD_REPORT % here], env=environment,
                            capture_output=True, text=True)
    print(result.stdout, end="")
    if result.returncode != 0:
        print(result.stderr[-4000:], end="")
        print(f"the CUDA build failed after {time.time() - started:.0f} s")
        sys.exit(1)


def run_for_figures(command, patterns, environment=None):
    """Run a benchmark in its own process (its memory and compiled state apart from the
    others); the numbers its output gives for `patterns`, or Nones if it failed."""
    import re

    done = subprocess.run(command, capture_output=True, text=True,
                          env=dict(os.environ, **(environment or {})))
    found = [re.search(pattern, done.stdout) for pattern in patterns]
    if done.returncode != 0 or not all(found):
        print(f"  {' '.join(command)} failed: {(done.stderr or done.stdout).strip()[-300:]}")
        return [None] * len(patterns)
    return [float(match[1]) for match in found]


def bench_versus_pytorch(args):
    """One training iteration (D with R1, G with mixing), ours against a PyTorch peer's step
    script (rosinality_step.py in the shared reference, which reads SIZE, BATCH, ITERS and
    DEVICE and prints img/s=... peak_mem=...GiB), each size in fresh processes, same device."""
    here = os.path.dirname(os.path.abspath(__file__))
    print(f"{'size':>6} {'ours img/s':>11} {'peer img/s':>11} {'ratio':>6}  peer peak memory")
    for size in args.sizes:
        [ours] = run_for_figures(
            [sys.executable, os.path.join(here, "benchmark.py"), "train", "--size", str(size),
             "--batch", str(args.batch), "--iters", str(args.iters), "--width", str(args.width),
             "--code_dim", str(args.code_dim), "--device", args.device],
            [r"= ([0-9.]+) img/s at alpha 1"])
        peer, memory = run_for_figures(
            [args.python, args.peer], [r"img/s=([0-9.]+)", r"peak_mem=([0-9.]+)GiB"],
            {"SIZE": str(size), "BATCH": str(args.batch), "ITERS": str(args.iters),
             "DEVICE": args.device})
        ratio = f"{ours / peer:.2f}x" if ours and peer else "-"
        print(f"{size:>4}px {ours or float('nan'):>11.1f} {peer or float('nan'):>11.1f} "
              f"{ratio:>6}  {'-' if memory is None else f'{memory:.2f} GiB'}")


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
    {"resize": bench_resize, "train": bench_train, "generate": bench_generate,
     "inception": bench_inception, "fid_halves": bench_fid_halves, "official": bench_official,
     "official_load": bench_official_load, "projection": bench_projection,
     "cuda_compile": bench_cuda_compile, "versus_jittor": bench_versus_jittor,
     "versus_pytorch": bench_versus_pytorch}[args.what](args)


if __name__ == "__main__":
    main()
