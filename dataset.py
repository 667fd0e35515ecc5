"""Training images by resolution, from resize.py's folders or a rosinality-style LMDB.

    dataset = MultiResolutionDataset("data", resolution=8, batch_size=32, num_workers=2)
    for real in infinite_batches(dataset): ...      # float32 NCHW in [-1, 1]
    dataset.set_resolution(16)                       # same object, next training step
    dataset.labelled = True                          # conditional training: with labels
    for real, labels in infinite_batches(dataset): ...   # labels: NumPy int64 (N,)
"""
import ctypes
import io
import itertools
import json
import os
import multiprocessing
import queue
import signal
import sys

import numpy as np
from PIL import Image
from tqdm import tqdm

from cli import UsageError
from runtime import jt  # noqa: I001  (before any jittor import: offline set-up)
from jittor.dataset import Dataset
from imaging import (SKIPPED_LOG, UnreadableImage, list_images, load_square_rgb, resized,
                     to_training_array)
from imaging.labels import LABELS_FILE, LabelError, folder_labels


def folder_resolutions(root):
    return sorted(int(name) for name in os.listdir(root)
                  if name.isdigit() and os.path.isdir(os.path.join(root, name)))


class FolderSource:
    """root/8, root/16, ...: each folder is listed once, the first time it is used."""

    def __init__(self, root):
        self.root = root
        self.resolutions = folder_resolutions(root)
        self._files, self._labels = {}, {}
        log = os.path.join(root, SKIPPED_LOG)
        self._unreadable = set()
        if os.path.exists(log):
            with open(log) as lines:
                self._unreadable = {line.split("\t")[0] for line in lines if line.strip()}

    def files(self, resolution):
        if resolution not in self._files:
            names = list_images(os.path.join(self.root, str(resolution)))
            self._files[resolution] = [n for n in names if n not in self._unreadable]
        return self._files[resolution]

    def __len__(self):
        return len(self.files(self.resolutions[-1]))

    def labels(self, resolution):
        """The class of each of files(resolution) and the class names, from the folder's
        dataset.json; (None, None) without one."""
        if resolution not in self._labels:
            folder = os.path.join(self.root, str(resolution))
            self._labels[resolution] = folder_labels(folder, self.files(resolution))
        return self._labels[resolution]

    def labels_file(self, resolution):
        return os.path.join(self.root, str(resolution), LABELS_FILE)

    def name(self, resolution, index):
        return os.path.join(self.root, str(resolution), self.files(resolution)[index])

    def load(self, resolution, index):
        # folders from resize.py are ready; the user's top folder may need converting
        return resized(load_square_rgb(self.name(resolution, index)), resolution)


_LMDB_ENVIRONMENTS = {}  # path -> (pid, environment): one per path and process


def lmdb_environment(path):
    """The read-only environment of `path` in this process. An environment inherited
    through fork (a loader process) must not be used, and LMDB refuses a second one of the
    same path in a process, so the inherited one is closed first (the parent's stays open)."""
    import lmdb

    pid, environment = _LMDB_ENVIRONMENTS.get(path, (None, None))
    if pid != os.getpid():
        if environment is not None:
            environment.close()
        environment = lmdb.open(path, readonly=True, lock=False, readahead=False, meminit=False)
        _LMDB_ENVIRONMENTS[path] = (os.getpid(), environment)
    return environment


class LmdbSource:
    """rosinality's prepare_data.py layout: b'{size}-{index:05d}' -> encoded image, b'length'."""

    def __init__(self, path):
        self.path = path
        with lmdb_environment(path).begin() as txn:
            length = txn.get(b"length")
            if length is None:
                raise UsageError(f"{path}: LMDB without a 'length' entry (not a StyleGAN LMDB)")
            self.length = int(length.decode("utf-8"))
            self.resolutions = [4 * 2**s for s in range(9)
                                if txn.get(f"{4 * 2**s}-00000".encode("utf-8")) is not None]
            stored = txn.get(b"labels")
        self._labels = (None, None)
        if stored is not None:
            try:
                content = json.loads(stored.decode("utf-8"))
                labels, names = [int(k) for k in content["labels"]], list(content["class_names"])
            except (ValueError, KeyError, TypeError):
                raise LabelError(f"{path}: its 'labels' entry is not resize.py's JSON; write "
                                 "the LMDB again with resize.py --lmdb") from None
            if len(labels) != self.length or min(labels, default=0) < 0 or \
                    max(labels, default=-1) >= len(names):
                raise LabelError(f"{path}: {len(labels)} labels for {self.length} images, or a "
                                 "class without a name; write the LMDB again with resize.py")
            self._labels = (labels, names)

    def labels(self, resolution):
        return self._labels

    def labels_file(self, resolution):
        return f"{self.path} (its 'labels' entry)"

    def files(self, resolution):
        return range(self.length)

    def __len__(self):
        return self.length

    def _transaction(self):
        return lmdb_environment(self.path).begin(write=False)

    def name(self, resolution, index):
        return f"{self.path}[{resolution}-{str(index).zfill(5)}]"

    def load(self, resolution, index):
        with self._transaction() as txn:
            data = txn.get(f"{resolution}-{str(index).zfill(5)}".encode("utf-8"))
        if data is None:
            raise UnreadableImage("no such entry in the LMDB")
        try:
            image = Image.open(io.BytesIO(data)).convert("RGB")
        except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as error:
            raise UnreadableImage(f"{type(error).__name__}: {error}".splitlines()[0]) from None
        return resized(image, resolution)



def data_roots_inside(root, depth=2):
    """Folders below root that train.py could read (resolution folders or an LMDB)."""
    found = []
    for name in sorted(os.listdir(root)):
        path = os.path.join(root, name)
        if name.startswith(".") or name.isdigit() or not os.path.isdir(path):
            continue
        if folder_resolutions(path) or os.path.exists(os.path.join(path, "data.mdb")):
            found.append(path)
        elif depth > 1:
            found += data_roots_inside(path, depth - 1)
    return found


def open_source(root):
    if not os.path.isdir(root):
        raise UsageError(f"{root}: no such data folder")
    if os.path.exists(os.path.join(root, "data.mdb")):
        return LmdbSource(root)
    if folder_resolutions(root):
        return FolderSource(root)
    inside = data_roots_inside(root)
    if inside:
        raise UsageError(f"{root}: no resolution folders of its own (like {root}/32), but "
                         f"{' and '.join(inside)} {'has' if len(inside) == 1 else 'have'} "
                         f"them: did you mean {inside[0]}?")
    if list_images(root):
        raise UsageError(f"{root} holds images but no resolution folders: put them in "
                         f"{root}/<size> (e.g. {root}/128) and run python resize.py {root}/128")
    raise UsageError(f"{root}: no resolution folders (like {root}/32) and no LMDB; "
                     f"make them with python resize.py {root}/<size>")


class MultiResolutionDataset(Dataset):
    """Images at one resolution at a time, as float32 CHW in [-1, 1], loaded lazily.

    A Jittor Dataset (iterate it for one epoch of batches); training uses
    infinite_batches(), whose `workers` processes restart cleanly at each resolution.
    """

    def __init__(self, root, resolution=None, batch_size=16, shuffle=True, drop_last=True,
                 num_workers=0, flip=True, seed=0):
        # Jittor's own workers SIGINT the trainer when they are reset mid-epoch (a new
        # resolution); infinite_batches runs its own, so they stay off here.
        super().__init__(batch_size=batch_size, shuffle=shuffle, drop_last=drop_last)
        self.root, self.flip, self.full_batches_only = root, flip, drop_last
        self.loader_workers, self.seed = num_workers, seed
        self.labelled = False  # set by a conditional run: batches then carry the labels
        self.source = open_source(root)
        self.skipped, self.new_skips = {}, []  # unreadable image -> why
        self._shuffle_rng = np.random.default_rng(seed)
        self.resolution = None
        self.set_resolution(resolution or self.source.resolutions[0])

    @property
    def resolutions(self):
        return self.source.resolutions

    def set_resolution(self, resolution, batch_size=None):
        """Switch to another resolution (and batch size), keeping the folder listings."""
        if resolution not in self.source.resolutions:
            raise UsageError(self._missing_message(resolution))
        count = len(self.source.files(resolution))
        if count == 0:
            raise UsageError(f"{self.root}/{resolution}: no images in the folder")
        self.resolution = resolution
        self.set_attrs(total_len=count, batch_size=batch_size or self.batch_size,
                       drop_last=self.full_batches_only and count >= (batch_size or self.batch_size))

    def looks_grey(self, count=64, tolerance=2):
        """True when `count` images spread over the smallest resolution are all grey (R, G
        and B within `tolerance` levels: JPEG in an LMDB may round them apart)."""
        resolution = self.source.resolutions[0]
        total = len(self.source.files(resolution))
        for index in np.linspace(0, total - 1, min(count, total)).astype(int):
            try:
                pixels = np.asarray(self.source.load(resolution, int(index)), dtype=np.int16)
            except UnreadableImage:
                continue  # training skips it too, with a warning
            if np.abs(np.diff(pixels, axis=-1)).max() > tolerance:
                return False
        return True

    def _missing_message(self, resolution):
        have = self.source.resolutions
        listing = ", ".join(map(str, have)) or "none"
        message = f"{self.root}: no {resolution} px images (available: {listing} px)"
        if have and resolution < have[-1] and isinstance(self.source, FolderSource):
            message += f"; make them with python resize.py {self.root}/{have[-1]} --min_size {resolution}"
        elif have and resolution > have[-1]:
            message += f"; train up to --max_size {have[-1]} or add larger images"
        return message

    def class_names(self):
        """The classes every resolution's labels agree on, or None for unlabelled data; a
        LabelError when some resolutions have labels and others not, or other classes."""
        found = {resolution: self.source.labels(resolution) for resolution in self.resolutions}
        names = {tuple(n) if n is not None else None for _, n in found.values()}
        if len(names) > 1:
            unlabelled = [r for r, (labels, _) in found.items() if labels is None]
            at = unlabelled[0] if unlabelled else self.resolutions[0]
            raise LabelError(f"{self.source.labels_file(at)}: "
                             + ("missing while other sizes have labels" if unlabelled
                                else "other classes than the other sizes'")
                             + "; run resize.py again on the labelled source")
        return list(names.pop() or []) or None

    def __getitem__(self, index):
        return self.item(index, self.flip and np.random.rand() < 0.5)[0]

    def item(self, index, flip):
        """(CHW float32 image, its class, or -1 unless `labelled`)."""
        image, position = self._load_readable(index)
        array = to_training_array(image)
        labels = self.source.labels(self.resolution)[0] if self.labelled else None
        return (np.ascontiguousarray(array[:, :, ::-1] if flip else array),
                -1 if labels is None else labels[position])

    def _load_readable(self, index):
        """The image at index (and its index) or, when it is unreadable (deleted or damaged
        since resize.py ran), the next readable one: it is recorded in `skipped` and
        training goes on."""
        count = len(self.source.files(self.resolution))
        for attempt in range(count):
            position = (index + attempt) % count
            name = self.source.name(self.resolution, position)
            if name in self.skipped:
                continue
            try:
                return self.source.load(self.resolution, position), position
            except UnreadableImage as error:
                self.skipped[name] = str(error)
                self.new_skips.append((name, str(error)))
        raise UsageError(f"{self.root}: no readable image at {self.resolution} px "
                         f"(last: {name}: {self.skipped.get(name)})")

    def load_batch(self, indices, flips):
        """(images NCHW, their classes: -1 without labels)."""
        items = [self.item(int(i), bool(f)) for i, f in zip(indices, flips)]
        return np.stack([image for image, _ in items]), np.array([k for _, k in items], np.int64)

    def report_skips(self, skips=None):
        """Warn once per unreadable image (skips found here, or sent by a loader process)."""
        own = skips is None
        for name, reason in (self.new_skips if own else skips):
            if own or name not in self.skipped:  # two loader processes may meet one file
                # through tqdm: a line of its own, not glued to the progress bar
                tqdm.write(f"warning: skipping unreadable image {name} ({reason})",
                           file=sys.stderr)
            self.skipped[name] = reason
        if own:
            self.new_skips = []


def rank_batches(count, batch_size, rng, shuffle=True, flip=True):
    """(indices, flips) of this MPI rank's share of every global batch of one epoch: every
    world_size-th sample from its rank, as for latents (runtime.rank_share)."""
    order = rng.permutation(count) if shuffle else np.arange(count)
    flips = (rng.random(count) < 0.5) & flip
    return [(order[start:start + batch_size][jt.rank::jt.world_size],
             flips[start:start + batch_size][jt.rank::jt.world_size])
            for start in range(0, count - batch_size + 1, batch_size)]


def epoch_after_epoch(dataset, seed, start=0):
    """(indices, flips) of batches forever, from batch `start` on; the same sequence
    wherever it is computed (trainer or loader process), so a resumed run sees the data
    the uninterrupted one would have."""
    rng = np.random.default_rng(seed)
    count = len(dataset.source.files(dataset.resolution))

    def forever():
        while True:
            yield from rank_batches(count, dataset.batch_size, rng, dataset.shuffle, dataset.flip)
    return itertools.islice(forever(), start, None)


def _die_with_parent():
    """Linux: SIGTERM this process when the trainer dies, even by SIGKILL (which leaves no
    chance to stop it), instead of waiting forever on a full queue."""
    try:
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _loader_process(dataset, seed, start, worker, n_workers, batches):
    """Loads batches start + worker, start + worker + n_workers, ... into its own bounded
    queue. Ctrl-C is the trainer's to handle (it saves, then stops us with SIGTERM)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _die_with_parent()
    try:
        for index, (indices, flips) in enumerate(epoch_after_epoch(dataset, seed, start)):
            if index % n_workers == worker:
                batch = dataset.load_batch(indices, flips)
                batches.put((*batch, dataset.new_skips))
                dataset.new_skips = []
    except Exception as error:  # reported by the trainer as one line
        batches.put(UsageError(str(error)))


def infinite_batches(dataset, start=0, prefetch=2):
    """Batches forever from batch `start`, epoch after epoch (the training loop counts
    samples, not epochs): images, or (images, their classes as NumPy int64) when the
    dataset is `labelled`.

    With dataset.loader_workers > 0, worker processes load ahead, each into its own queue
    of at most `prefetch` batches. They are killed when the generator is closed (e.g. at a
    new resolution); nothing the trainer waits on is shared with them, so that cannot hang.
    """
    count = len(dataset.source.files(dataset.resolution))
    if count < dataset.batch_size:
        raise UsageError(f"{dataset.root}: fewer images ({count}) than one batch "
                         f"({dataset.batch_size}) at {dataset.resolution} px")
    seed = dataset.seed + dataset.resolution
    if not dataset.loader_workers:
        for indices, flips in epoch_after_epoch(dataset, seed, start):
            batch, labels = dataset.load_batch(indices, flips)
            dataset.report_skips()
            yield (jt.array(batch), labels) if dataset.labelled else jt.array(batch)
    context = multiprocessing.get_context("fork")
    queues = [context.Queue(maxsize=prefetch) for _ in range(dataset.loader_workers)]
    workers = [context.Process(target=_loader_process, daemon=True,
                               args=(dataset, seed, start, k, dataset.loader_workers, queues[k]))
               for k in range(dataset.loader_workers)]
    for worker in workers:
        worker.start()
    try:
        for index in itertools.count():
            batch, labels, skips = _next_batch(queues[index % len(workers)],
                                               workers[index % len(workers)])
            dataset.report_skips(skips)
            yield (jt.array(batch), labels) if dataset.labelled else jt.array(batch)
    finally:
        for worker in workers:
            worker.terminate()  # SIGTERM: the one child death Jittor's SIGCHLD handler accepts
        for worker in workers:
            worker.join()


def _next_batch(batches, worker):
    while True:
        try:
            batch = batches.get(timeout=5)
        except queue.Empty:
            if not worker.is_alive():
                raise UsageError(f"a data loader process stopped (exit code {worker.exitcode}); "
                                 "rerun with --workers 0 to see why") from None
            continue
        if isinstance(batch, UsageError):
            raise batch
        return batch
