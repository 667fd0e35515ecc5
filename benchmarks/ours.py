"""Our own figures (run by benchmark.py; not tests: run them by hand and read the numbers)."""
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
    from imaging.resizing import resize_folder

    workdir = tempfile.mkdtemp()
    try:
        source = os.path.join(workdir, "128")
        make_photo_like_sources(source, args.count)
        summary = resize_folder(source, min_size=8, workers=args.workers, progress=False)
        print(f"resize: {args.count} sources of 128 px -> 64..8 px with {args.workers} workers: "
              f"{summary['seconds']:.2f} s, {args.count / summary['seconds']:.0f} images/s")
        again = resize_folder(source, min_size=8, workers=args.workers, progress=False)
        print(f"re-run (all up to date): {again['seconds']:.2f} s")
    finally:
        shutil.rmtree(workdir)


def bench_train(args):
    """img/s of one full training iteration: D step with R1 + G step, mixing on, EMA."""
    from runtime import jt, select_device
    from convolution import precision
    from model import step_of_size
    from training.options import default_training_args
    from training.randomness import seed_everything
    from training.schedule import Plan
    from training.state import TrainingState
    from training.steps import training_step

    select_device(args.device)
    seed_everything(0)
    state = TrainingState(default_training_args(
        width=args.width, code_dim=args.code_dim, batch=args.batch, loss=args.loss,
        precision=args.precision))
    step = step_of_size(args.size)
    real = jt.array(np.random.RandomState(0).uniform(-1, 1, (args.batch, 3, args.size, args.size))
                    .astype(np.float32)).stop_grad()

    def iteration(alpha):
        training_step(state, real, Plan(step, alpha, args.batch, 0.001))

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
          f"code_dim {args.code_dim}, {args.loss}, {precision()} convolutions: "
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
    from dataset import MultiResolutionDataset
    from evaluation import fid
    from perceptual.inception import InceptionV3
    from runtime import select_device

    select_device(args.device)
    net = InceptionV3()
    data = MultiResolutionDataset(args.data, args.size, flip=False)
    count = min(args.count, len(data.source.files(args.size))) // 2 * 2
    started = time.time()
    features = fid.inception_features(net, fid.real_batches(data, args.size, count, 32),
                                          count, "real")
    seconds = time.time() - started
    order = np.random.RandomState(0).permutation(count)
    halves = [fid.statistics(features[order[i::2]]) for i in (0, 1)]
    print(f"FID of {count // 2} vs {count // 2} real {args.size} px images of {args.data}: "
          f"{fid.frechet_distance(*halves[0], *halves[1]):.3f} "
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
    project = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sys.path.insert(0, os.path.join(project, "test"))
    from official_writer import official_pickle

    workdir = tempfile.mkdtemp()
    try:
        path = os.path.join(workdir, f"official_{args.size}.pkl")
        started = time.time()
        with open(path, "wb") as stream:
            stream.write(official_pickle(args.size))
        print(f"wrote an official-layout {args.size} px pickle: "
              f"{os.path.getsize(path) / 2**20:.0f} MiB in {time.time() - started:.1f} s")
        subprocess.run([sys.executable, os.path.join(project, "benchmark.py"), "official_load", path,
                        "--iters", str(args.iters), "--batch", str(args.batch),
                        "--device", args.device], check=True)
    finally:
        shutil.rmtree(workdir)


def bench_official_load(args):
    from runtime import jt, select_device
    from formats import checkpoints
    from rendering import Renderer, stored_noise

    select_device(args.device)
    before = memory_mb("VmRSS")
    started = time.time()
    generator, ckpt = checkpoints.load_generator(args.path)
    seconds = time.time() - started
    print(f"load_generator: {seconds:.1f} s, peak memory {memory_mb('VmHWM') - before:.0f} MiB "
          f"above the {before:.0f} MiB of the process before")
    started = time.time()
    checkpoints.load_discriminator(args.path)
    print(f"load_discriminator: {time.time() - started:.1f} s")
    converted = args.path + ".model"
    started = time.time()
    checkpoints.save_checkpoint(checkpoints.read_checkpoint(args.path), converted)
    print(f"convert to ours: {time.time() - started:.1f} s, "
          f"{os.path.getsize(converted) / 2**20:.0f} MiB")
    started = time.time()
    checkpoints.load_generator(converted)
    print(f"load_generator of the converted file: {time.time() - started:.1f} s")

    step = len(ckpt["noise"]) // 2 - 1
    render = Renderer(generator, step, 1.0, generator.w_avg.reshape(1, -1), 0.7, 8,
                               args.batch, stored_noise(None, ckpt, args.path))
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
    from runtime import select_device
    from editing.projection import project
    from evaluation import digits
    from formats.checkpoints import load_generator, trained_resolution
    from model import step_of_size
    from perceptual.lpips import LPIPS

    select_device(args.device)
    generator, checkpoint = load_generator(args.ckpt)
    size, alpha = trained_resolution(checkpoint)
    grey, labels = digits.mnist_grey("t10k")
    targets = np.repeat(grey[:args.count, None] * 2 - 1, 3, 1).astype(np.float32)
    factor = targets.shape[2] // size  # a 16 px model: the digits' 2x2 means
    targets = targets.reshape(len(targets), 3, size, factor, size, factor).mean((3, 5))
    classifier, lpips = digits.trained_classifier(), LPIPS()

    def label_of(images):
        return digits.image_probabilities(classifier, images).argmax(1)

    target_labels = label_of(targets)
    for space in args.spaces:
        for steps in args.steps:
            started = time.time()
            reconstructions, projection = project(
                generator, targets, step_of_size(size), alpha, lpips, space, steps,
                progress=False)
            seconds = (time.time() - started) / steps
            kept = (label_of(reconstructions) == target_labels).mean()
            print(f"{space:2} {steps:5} steps, {args.count} digits: median LPIPS "
                  f"{np.median(projection.lpips):.4f}, median PSNR {np.median(projection.psnr):.2f} "
                  f"dB, label kept {kept:.0%}, {seconds:.2f} s per step", flush=True)


def bench_explore(args):
    """explore.py's time from request to image: a full-width generator of each size (random
    weights), the server on this machine, each request a new setting (no cache)."""
    import http.client
    import threading

    from explorer import Explorer, ModelView, serve
    from formats.checkpoints import save_checkpoint, to_numpy_tree
    from model import StyledGenerator
    from runtime import select_device

    select_device(args.device)
    workdir = tempfile.mkdtemp()
    try:
        for size in args.sizes:
            path = os.path.join(workdir, f"g{size}.model")
            generator = StyledGenerator(code_dim=args.code_dim, width=args.width)
            save_checkpoint({**to_numpy_tree(generator.state_dict()),
                             "meta": {"size": size, "alpha": 1.0}}, path)
            explorer = Explorer({"g": ModelView(path)}, [])
            server = serve(explorer, "127.0.0.1", 0)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            connection = http.client.HTTPConnection("127.0.0.1", server.server_address[1])

            def request(psi):
                started = time.perf_counter()
                connection.request("GET", f"/api/render?psi={psi:.3f}&seed=1",
                                   headers={"Host": f"127.0.0.1:{server.server_address[1]}"})
                response = connection.getresponse()
                response.read()
                assert response.status == 200
                return (time.perf_counter() - started) * 1e3, float(response.getheader("X-Render-Ms"))

            first = request(0.5)[0]
            times = [request(0.5 + 0.01 * (i + 1)) for i in range(args.requests)]
            total, rendering = (float(np.median([t[k] for t in times])) for k in (0, 1))
            print(f"explore {size} px, width {args.width}: request to image {total:.1f} ms "
                  f"(rendering {rendering:.1f} ms; median of {args.requests}); first request "
                  f"{first / 1e3:.1f} s (compiles)", flush=True)
            server.shutdown()
            server.server_close()
    finally:
        shutil.rmtree(workdir)


def bench_digits_fid(args):
    """FID at --size against held-out MNIST test digits (never trained on): the real floor
    (the first --count training digits against --count test digits) and each checkpoint's
    EMA generator (--count samples)."""
    from evaluation import fid
    from formats.checkpoints import load_generator
    from imaging.resizing import demo_digits, parse_digit_classes
    from perceptual.inception import InceptionV3
    from rendering import Renderer, choose_size, generated_batches
    from runtime import select_device

    select_device(args.device)
    inception = InceptionV3()

    classes = parse_digit_classes(args.digits) if args.digits else None

    def digit_batches(split):
        rgb = demo_digits(split, classes, args.count, args.size).transpose(0, 3, 1, 2)
        return (rgb[start:start + 50] for start in range(0, len(rgb), 50))

    test = fid.statistics(fid.inception_features(inception, digit_batches("t10k"), args.count,
                                                 "test digits", progress=False))
    train = fid.statistics(fid.inception_features(inception, digit_batches("train"), args.count,
                                                  "training digits", progress=False))
    print(f"floor: {args.count} training digits against {args.count} test digits at "
          f"{args.size} px: "
          f"FID {fid.frechet_distance(*train, *test):.2f}", flush=True)
    for path in args.ckpt:
        generator, checkpoint = load_generator(path)
        step, alpha = choose_size(args.size, checkpoint, path)
        render = Renderer(generator, step, alpha, None, 1.0, None, 16)
        generated = fid.statistics(fid.inception_features(
            inception, generated_batches(render, args.count, 16, np.random.RandomState(0)),
            args.count, "generated", progress=False))
        print(f"{path}: FID {fid.frechet_distance(*generated, *test):.2f} against the test "
              f"digits ({args.count} samples)", flush=True)


def bench_onnx(args):
    """Export a full-width random-weight generator to ONNX at each size: the export's time,
    the file's size, and img/s of onnxruntime (CPU provider) and of our generator, batched,
    same latents and noise."""
    import onnxruntime

    from exporting import build_graph
    from model import StyledGenerator, step_of_size
    from runtime import jt, select_device

    select_device("cpu")
    generator = StyledGenerator()
    rng = np.random.RandomState(0)
    for size in args.sizes:
        step = step_of_size(size)
        maps = [rng.randn(1, 1, 4 * 2**b, 4 * 2**b).astype(np.float32) for b in range(step + 1)]
        started = time.time()
        model = build_graph(generator, step, 1.0, "z", None, 1.0, None, maps, "generator")
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "g.onnx")
            with open(path, "wb") as stream:
                stream.write(model.SerializeToString())
            export_seconds = time.time() - started
            megabytes = os.path.getsize(path) / 1e6
            session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
        z = rng.randn(args.batch, 512).astype(np.float32)
        noise = [jt.array(np.repeat(m, args.batch, 0)) for m in maps]
        timings = {}
        for name, run in (("onnxruntime", lambda: session.run(["image"], {"z": z})[0]),
                          ("ours", lambda: generator(jt.array(z), noise=noise, step=step).numpy())):
            with jt.no_grad():
                run()  # compiles / plans once
                started = time.time()
                for _ in range(args.iters):
                    run()
            timings[name] = args.batch * args.iters / (time.time() - started)
        print(f"{size} px: export {export_seconds:.1f} s, {megabytes:.1f} MB; batch {args.batch}: "
              f"onnxruntime {timings['onnxruntime']:.2f} img/s, ours {timings['ours']:.2f} img/s",
              flush=True)
