"""The fine-tuning recipe measured on MNIST: pretrain on digits 0-4, fine-tune on a few of 5-9.

Every run is a real `train.py` command in its own process (the lines are printed), the arms
at equal minutes: each arm's checkpoints are saved every --save_every iterations, and the one
taken for a given minute mark is the last one its own training speed reached by then (time
from its log; start-up, first-time compilation and pauses by other jobs left out). Run the seed whose clock counts
(--clock_seed) alone on the machine; other seeds take their checkpoints at its iterations.
"""
import json
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# the demo's command (README command 1) at 16 px
DEMO = ["--init_size", "8", "--max_size", "16", "--width", "32", "--code_dim", "128",
        "--lr", "0.005", "--phase", "4000", "--no_mixing", "--ema_decay", "0.99", "--no_flip"]


def arm_options(arm, pretrained, lr, ada_kimg):
    """train.py's options of one arm of the comparison."""
    fine_tuned = ["--from", pretrained, "--max_size", "16", "--lr", str(lr), "--no_mixing",
                  "--ema_decay", "0.99", "--no_flip"]
    ada = ["--augment", "ada", "--ada_kimg", str(ada_kimg)]
    return {"scratch": DEMO, "fine-tuned": fine_tuned, "ada": fine_tuned + ada,
            "ada-freeze": fine_tuned + ada + ["--freeze_d", "1"]}[arm]


def run(command, log_path):
    print(" ".join(command), flush=True)
    with open(log_path, "w") as log:
        subprocess.run(command, check=True, stdout=log, stderr=subprocess.STDOUT, cwd=HERE)


def train(data, out, options, iters, seed, save_every):
    if os.path.exists(os.path.join(out, f"{iters:06d}.model")):
        return
    run([sys.executable, "train.py", data, *options, "--seed", str(seed), "--iters", str(iters),
         "--save_every", str(save_every), "--sample_every", str(save_every), "--log_every", "10",
         "--checkpoint_dir", out, "--sample_dir", out + "-samples"], out + ".txt")


def training_seconds(out):
    """Seconds of training at each logged iteration, from the log's clock. An interval
    longer than 1.3 times the median of its resolution's (start-up, first-time compilation,
    a pause by another job on the machine) counts as that bound."""
    records = [json.loads(line) for line in open(os.path.join(out, "log.jsonl"))]
    records = [r for r in records if "img_per_s" in r]
    iterations = np.array([0] + [r["iteration"] for r in records])
    clock = np.array([r["time"] for r in records])
    sizes = np.array([r["size"] for r in records])
    per_iteration = np.diff(clock, prepend=np.nan) / np.diff(iterations)
    for size in set(sizes):
        at_size = sizes == size
        bound = 1.3 * np.nanmedian(per_iteration[at_size])
        per_iteration[at_size] = np.fmin(per_iteration[at_size], bound)  # NaN: the first
    seconds = np.cumsum(per_iteration * np.diff(iterations))
    return iterations[1:], seconds


def checkpoint_at(out, clock_out, minutes, save_every):
    """(path, iteration, minutes) of the last checkpoint of `out` saved within `minutes` of
    training at the speed of `clock_out` (the same arm's run that ran alone)."""
    iterations, seconds = training_seconds(clock_out)
    reached = iterations[seconds <= minutes * 60]
    iteration = int(reached.max()) // save_every * save_every if len(reached) else 0
    iteration = max(iteration, save_every)
    path = os.path.join(out, f"{iteration:06d}.model")
    return path, iteration, float(np.interp(iteration, iterations, seconds)) / 60


def adaptive_p(out, iteration):
    records = [json.loads(line) for line in open(os.path.join(out, "log.jsonl"))]
    p = [(r["iteration"], r["augment_p"]) for r in records if "augment_p" in r]
    return [value for it, value in p if it <= iteration][-1] if p else None


def bench_finetune(args):
    from evaluation import fid
    from evaluation.digits import digit_report, generated_images, grey_levels, trained_classifier
    from formats.checkpoints import load_generator, trained_resolution
    from imaging.resizing import demo_digits, parse_digit_classes
    from model import step_of_size
    from perceptual.inception import InceptionV3
    from rendering import Renderer, generated_batches

    root = os.path.abspath(args.root)
    os.makedirs(root, exist_ok=True)
    # data
    for name, digits, count in (("pre", "0-4", 10000), *((f"few{n}", "5-9", n) for n in args.counts)):
        if not os.path.isdir(os.path.join(root, name, "16")):
            run([sys.executable, "resize.py", "--demo", os.path.join(root, name), "--digits",
                 digits, "--count", str(count)], os.path.join(root, name + ".txt"))
    # pretraining
    pretrained_dir = os.path.join(root, "pretrained")
    train(os.path.join(root, "pre"), pretrained_dir, DEMO, args.pretrain_iters, 0,
          args.pretrain_iters)
    pretrained = os.path.join(pretrained_dir, f"{args.pretrain_iters:06d}.model")
    # the arms
    runs = []
    for count in args.counts:
        for arm in args.arms:
            for seed in args.seeds:
                out = os.path.join(root, f"{count}-{arm}-{seed}")
                train(os.path.join(root, f"few{count}"), out,
                      arm_options(arm, pretrained, args.lr, args.ada_kimg), args.iters, seed,
                      args.save_every)
                runs.append((count, arm, seed, out))
    if args.no_evaluation:
        return
    # evaluation: FID against held-out test digits 5-9 at 16 px, the classifier's reading
    classes = parse_digit_classes("5-9")
    inception = InceptionV3()

    def digit_batches(split):
        rgb = demo_digits(split, classes, 1000, 16).transpose(0, 3, 1, 2)
        return (rgb[s:s + 50] for s in range(0, len(rgb), 50))

    cache = os.path.join(root, "test_digits_5-9_16px_1000.npz")  # the same for every call
    if not os.path.exists(cache):
        test = fid.statistics(fid.inception_features(inception, digit_batches("t10k"), 1000,
                                                     "test digits", progress=False))
        floor = fid.frechet_distance(*fid.statistics(fid.inception_features(
            inception, digit_batches("train"), 1000, "training digits", progress=False)), *test)
        np.savez(cache, mu=test[0], sigma=test[1], floor=floor)
    with np.load(cache) as stored:
        test, floor = (stored["mu"], stored["sigma"]), float(stored["floor"])
    print(f"floor: the first 1,000 training digits 5-9 against 1,000 test digits 5-9 at 16 px: "
          f"FID {floor:.2f}", flush=True)
    classifier = trained_classifier()
    print("| images | arm | seed | minutes | iterations | FID | x floor | recognised | read as "
          "5-9 | classes 5-9 drawn | ADA p |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for count, arm, seed, out in runs:
        for minutes in args.minutes:
            clock_out = os.path.join(root, f"{count}-{arm}-{args.clock_seed}")
            path, iteration, taken = checkpoint_at(out, clock_out, minutes, args.save_every)
            generator, checkpoint = load_generator(path)
            size, alpha = trained_resolution(checkpoint)
            render = Renderer(generator, step_of_size(size), alpha, None, 1.0, None, 64)
            if minutes in args.fid_minutes:
                generated = fid.statistics(fid.inception_features(
                    inception, generated_batches(render, 1000, 16, np.random.RandomState(0)),
                    1000, "generated", progress=False))
                distance = fid.frechet_distance(*generated, *test)
                value = f"{distance:.2f} | {distance / floor:.2f}x"
            else:
                value = "| "
            report = digit_report(classifier, grey_levels(generated_images(render, 512, 0)))
            share = sum(report["per_class"][c] for c in classes) / 512
            drawn = sum(report["per_class"][c] > 0 for c in classes)
            p = adaptive_p(out, iteration)
            print(f"| {count} | {arm} | {seed} | {taken:.1f} | {iteration} | {value} | "
                  f"{report['recognised']:.1%} | {share:.1%} | {drawn} | "
                  f"{'' if p is None else f'{p:.3f}'} |", flush=True)
