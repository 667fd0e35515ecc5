"""Resizing a folder of images into the power-of-two sizes training reads, in parallel;
the optional LMDB; the MNIST demo set."""
import io
import json
import os
import time
from contextlib import contextmanager
from multiprocessing import Pool

import numpy as np
from PIL import Image
from tqdm import tqdm

from cli import UsageError, number_ranges, progress_interval
from imaging import (IMAGE_EXTENSIONS, SKIPPED_LOG, UnreadableImage, list_images,
                     load_square_rgb, resized, save_image_atomically)
from imaging.labels import LABELS_FILE, source_labels, write_labels_file
from imaging.mnist import read_mnist


class ResizeError(UsageError):
    """Bad arguments or an unusable source folder (printed as one line)."""


def power_of_two(size):
    return size >= 4 and size & (size - 1) == 0


def output_sizes(top, min_size):
    sizes, size = [], top // 2
    while size >= min_size:
        sizes.append(size)
        size //= 2
    return sizes


def output_name(relative_path, taken_stems):
    """data/128/a/b.jpg -> a/b.png; keep the extension when two sources share a stem."""
    stem = os.path.splitext(relative_path)[0]
    return (relative_path if taken_stems[stem] > 1 else stem) + ".png"


def is_up_to_date(source_path, output_paths):
    try:
        source_time = os.path.getmtime(source_path)
    except OSError:  # a dangling link or a loop: load_square_rgb reports it
        return False
    return all(os.path.exists(p) and os.path.getmtime(p) >= source_time for p in output_paths)


def fit_mark(root, size):
    """Beside the output folders: how a folder's squares were made (crop or pad)."""
    return os.path.join(root, f".resize_fit_{size}px")


def folders_fit(root, sizes, fit):
    """Whether every output folder's squares were made with `fit` (a change rewrites them)."""
    for size in sizes:
        try:
            with open(fit_mark(root, size)) as mark:
                if mark.read().strip() != fit:
                    return False
        except OSError:
            if fit != "crop":  # folders from before the mark were cropped
                return False
    return True


def mark_fit(root, sizes, fit):
    for size in sizes:
        with open(fit_mark(root, size), "w") as mark:
            mark.write(fit + "\n")


def resize_one(task):
    """Worker: write every output size of one source. Returns (path, error or None, wrote)."""
    source_path, outputs, fit, refresh = task
    if not refresh and is_up_to_date(source_path, [path for _, path in outputs]):
        return source_path, None, False
    try:
        image = load_square_rgb(source_path, fit)
    except UnreadableImage as error:
        return source_path, str(error), False
    for size, path in outputs:
        try:
            save_image_atomically(resized(image, size), path, format="PNG", compress_level=1)
        except OSError as error:  # the output side: stop, it would fail for every image
            raise ResizeError(f"{path}: cannot write ({error.strerror or error}); "
                              "check the free space and permissions of that folder") from None
    return source_path, None, True


class InProcess:
    """Pool's imap and imap_unordered, run here: one worker needs no process, and a process
    forked while Jittor's compiler threads hold a lock can wait for it forever (seen once
    in the tests)."""

    @staticmethod
    def imap(function, items, chunksize=1):
        return map(function, items)

    imap_unordered = imap


@contextmanager
def worker_pool(workers):
    count = workers or os.cpu_count()
    if count == 1:
        yield InProcess()
        return
    with Pool(count) as pool:
        yield pool


def output_names(names):
    """{source name: the name of its outputs}."""
    stems = {}
    for name in names:
        stem = os.path.splitext(name)[0]
        stems[stem] = stems.get(stem, 0) + 1
    return {name: output_name(name, stems) for name in names}


def plan_tasks(source, root, names, sizes, fit="crop"):
    outputs = output_names(names)
    refresh = not folders_fit(root, sizes, fit)
    return [(os.path.join(source, name),
             [(size, os.path.join(root, str(size), outputs[name])) for size in sizes], fit,
             refresh)
            for name in names]


def write_folder_labels(source, root, names, sizes, labels, class_names):
    """dataset.json in every resolution folder (the source's own too, when its labels came
    from subfolders), so each folder is a labelled dataset as stylegan2-ada reads them."""
    if is_resolution_folder(source) and not os.path.exists(os.path.join(source, LABELS_FILE)):
        write_labels_file(source, {name: labels[os.path.normpath(name)] for name in names},
                          class_names)
    outputs = output_names(names)
    for size in sizes:
        write_labels_file(os.path.join(root, str(size)),
                          {outputs[name]: labels[os.path.normpath(name)] for name in names},
                          class_names)


def is_resolution_folder(source):
    """A source named as its size (data/128) is itself the top size training reads."""
    return os.path.basename(os.path.normpath(source)).isdigit()


def check_source(source, size, min_size):
    if not os.path.isdir(source):
        raise ResizeError(f"{source}: no such folder")
    if size is None:
        name = os.path.basename(os.path.normpath(source))
        if not name.isdigit():
            raise ResizeError(f"{source}: the folder name is not a resolution; "
                              "pass --size N (the size images are trained at, e.g. --size 128)")
        size = int(name)
    if not power_of_two(size):
        raise ResizeError(f"--size {size}: must be a power of two, at least 4")
    if not power_of_two(min_size) or min_size > size:
        raise ResizeError(f"--min_size {min_size}: must be a power of two from 4 to {size}")
    names = list_images(source)
    if not names:
        raise ResizeError(f"{source}: no images found (looked for "
                          f"{' '.join(sorted(IMAGE_EXTENSIONS))}, in any case)")
    return size, names


def write_skipped_log(root, failures):
    path = os.path.join(root, SKIPPED_LOG)
    with open(path, "w") as log:
        for source_path, error in sorted(failures):
            log.write(f"{source_path}\t{error}\n")
    return path


def resize_folder(source, size=None, min_size=8, workers=None, progress=True, labels="auto",
                  fit="crop"):
    """Write root/{size} folders for every size below the top one (and the top one when the
    source is not named as it), with the source's labels (`labels`: see
    imaging.labels.source_labels), the images cropped or padded to squares (`fit`);
    returns a summary dict."""
    size, names = check_source(source, size, min_size)
    if fit == "pad" and is_resolution_folder(source):
        name = os.path.basename(os.path.normpath(source))
        raise ResizeError(f"--fit pad: {source} is itself the {name} px folder training reads, "
                          f"and would be cropped there; put the originals in a folder of "
                          f"another name (e.g. data/raw) and run resize.py data/raw --size "
                          f"{size} --fit pad")
    label_of, class_names = source_labels(source, names, labels)
    root = os.path.dirname(os.path.abspath(source))
    sizes = output_sizes(size, min_size)
    if not is_resolution_folder(source):
        sizes = [size] + sizes
    tasks = plan_tasks(source, root, names, sizes, fit)
    written, failures, started = 0, [], time.time()
    with worker_pool(workers) as pool:
        results = pool.imap_unordered(resize_one, tasks, chunksize=16)
        for source_path, error, wrote in tqdm(results, total=len(tasks), disable=not progress,
                                              mininterval=progress_interval(),
                                              unit="img", desc=f"{size} px -> {sizes}"):
            written += wrote
            if error:
                failures.append((os.path.relpath(source_path, source), error))
    seconds = time.time() - started
    mark_fit(root, sizes, fit)
    if label_of is not None:
        write_folder_labels(source, root, names, sizes, label_of, class_names)
    return {"size": size, "sizes": sizes, "sources": len(names), "written": written,
            "class_names": class_names,
            "up_to_date": len(names) - written - len(failures), "failures": failures,
            "log": write_skipped_log(root, failures), "seconds": seconds}


def encode_for_lmdb(task):
    """Worker: JPEG (quality 100) bytes of one source at each size, as rosinality stores."""
    source_path, sizes, fit = task
    try:
        image = load_square_rgb(source_path, fit)
    except UnreadableImage:
        return None
    encoded = []
    for size in sizes:
        buffer = io.BytesIO()
        # 4:4:4 sampling keeps colour edges sharp at small sizes (still plain JPEG)
        resized(image, size).save(buffer, format="JPEG", quality=100, subsampling=0)
        encoded.append(buffer.getvalue())
    return encoded


def write_lmdb(source, out_path, size, min_size=8, workers=None, progress=True, labels="auto",
               fit="crop"):
    """rosinality's layout: keys f'{size}-{index:05d}' -> JPEG bytes, and b'length'; with
    labels, b'labels': {"labels": [class of each index], "class_names": [...]} as JSON."""
    import lmdb

    names = list_images(source)
    label_of, class_names = source_labels(source, names, labels)
    kept_labels = []
    sizes = [size] + output_sizes(size, min_size)
    count = 0
    try:
        env = lmdb.open(out_path, map_size=1024**4, readahead=False)
    except lmdb.Error as error:
        raise ResizeError(f"--lmdb {out_path}: cannot create the LMDB ({error})") from None
    with env, worker_pool(workers) as pool:
        tasks = [(os.path.join(source, name), sizes, fit) for name in names]
        for name, encoded in zip(names, tqdm(pool.imap(encode_for_lmdb, tasks, chunksize=16),
                                             total=len(tasks), disable=not progress,
                                             mininterval=progress_interval(), unit="img",
                                             desc="lmdb")):
            if encoded is None:
                continue
            if label_of is not None:
                kept_labels.append(label_of[os.path.normpath(name)])
            with env.begin(write=True) as txn:
                for image_size, data in zip(sizes, encoded):
                    txn.put(f"{image_size}-{str(count).zfill(5)}".encode("utf-8"), data)
            count += 1
        with env.begin(write=True) as txn:
            txn.put(b"length", str(count).encode("utf-8"))
            if label_of is not None:
                txn.put(b"labels", json.dumps({"labels": kept_labels,
                                               "class_names": class_names}).encode("utf-8"))
    return count


def parse_digit_classes(text):
    """"5-9" or "0,2,4" -> the sorted digit classes; a ValueError names what is wrong."""
    try:
        classes = set(number_ranges(text))
    except ValueError:
        raise ValueError(f"{text}: give digits as 5-9 or 0,2,4") from None
    if not classes or max(classes) > 9:
        raise ValueError(f"{text}: digits are 0 to 9")
    return sorted(classes)


def mnist_of_classes(split, classes=None, with_labels=False):
    """MNIST digits of a split, only those of `classes` (all when None), in file order (and
    their labels)."""
    digits, labels = read_mnist(split), read_mnist(split, labels=True)
    if classes is not None:
        keep = np.isin(labels, classes)
        digits, labels = digits[keep], labels[keep]
    return (digits, labels) if with_labels else digits


def demo_digits(split, classes=None, count=None, size=32):
    """MNIST digits of a split (of `classes`, the first `count`) as the demo set holds them at
    `size`: white on black, padded 28 -> 32 px, resized as resize.py does; NHWC uint8 RGB."""
    digits = np.pad(mnist_of_classes(split, classes)[:count], ((0, 0), (2, 2), (2, 2)))
    return np.stack([np.asarray(resized(Image.fromarray(d).convert("RGB"), size))
                     for d in digits])


def build_demo(root, count=10000, progress=True, classes=None):
    """root/32: the first `count` MNIST training digits (of `classes` only, when given),
    white on black, padded 28 -> 32 px (no resampling).

    Grey rather than coloured: within the demo's 15-minute CPU budget a narrow model learns
    distinct grey digits, while random per-digit colours left strokes speckled. Labelled:
    root/32/dataset.json gives each image its digit (class names "0" to "9")."""
    digits, labels = mnist_of_classes("train", classes, with_labels=True)
    digits, labels = digits[:count], labels[:count]
    digits = np.pad(digits, ((0, 0), (2, 2), (2, 2)))
    pixels = np.repeat(digits[..., None], 3, axis=-1)
    folder = os.path.join(root, "32")
    os.makedirs(folder, exist_ok=True)
    for index in tqdm(range(len(pixels)), disable=not progress, unit="img", desc="demo 32 px",
                      mininterval=progress_interval()):
        path = os.path.join(folder, f"{index:05d}.png")
        if not os.path.exists(path):
            save_image_atomically(Image.fromarray(pixels[index], "RGB"), path, format="PNG")
    write_labels_file(folder, {f"{index:05d}.png": int(label) for index, label in enumerate(labels)},
                      [str(digit) for digit in range(10)])
    return folder
