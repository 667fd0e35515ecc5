"""No file a user loads can run code, and damaged files give one-line errors."""
import io
import json
import os
import signal
import time
import tracemalloc
import zipfile
import zlib

import numpy as np
import pytest
from PIL import Image

from conftest import NARROW, data_path
from formats.checkpoints import load_generator, read_checkpoint, save_checkpoint
from fuzz_files import mutations
from hostile_files import nested_pickle, write_hostile_files
from model import Discriminator, StyledGenerator
from pt_writer import write_pt_legacy, write_pt_zip
from cli import UsageError
from runtime import jt
from training.randomness import seed_everything
from imaging import resizing



def numpy_state(module):
    return {key: value.numpy() for key, value in module.state_dict().items()}


@pytest.fixture(scope="module")
def valid_files(tmp_path_factory):
    """One valid file of every kind the loaders read."""
    folder = tmp_path_factory.mktemp("valid")
    seed_everything(0)  # module scope: set up before the per-test seeding
    g, d = StyledGenerator(**NARROW), Discriminator(width=NARROW["width"])
    g_state, d_state = numpy_state(g), numpy_state(d)
    files = {name: str(folder / f"{name}.model") for name in
             ("ours", "stylegan_jittor", "torch_zip", "torch_legacy")}
    save_checkpoint({"generator": g_state, "discriminator": d_state, "g_running": g_state,
                     "progress": {"iteration": 3}, "args": {"width": 16},
                     "meta": {"size": 16, "alpha": 1.0, "grey": False}}, files["ours"])
    jt.save({key: jt.array(value) for key, value in g_state.items()}, files["stylegan_jittor"])
    write_pt_zip({"generator": g_state, "g_running": g_state}, files["torch_zip"])
    write_pt_legacy(g_state, files["torch_legacy"])
    files["official"] = data_path("official_small_32.pkl")
    return files


@pytest.mark.parametrize("loader", ["read_checkpoint", "generate", "train", "fid", "ppl",
                                    "digits"])
def test_no_hostile_pickle_runs_code(tmp_path, loader):
    paths, marker = write_hostile_files(str(tmp_path))
    data = tmp_path / "data"
    (data / "8").mkdir(parents=True)
    for name, path in paths.items():
        with pytest.raises(UsageError, match=r"refused to load posix\.system") as error:
            run_loader(loader, path, str(data), str(tmp_path))
        assert os.path.basename(path) in str(error.value) and "\n" not in str(error.value)
        assert not os.path.exists(marker), f"{name}: the file ran a command via {loader}"


def run_loader(loader, path, data, out):
    if loader == "read_checkpoint":
        return read_checkpoint(path)
    if loader == "generate":
        import generate
        return generate.main([path, "--out", out])
    if loader == "train":
        import train
        return train.main([data, "--ckpt", path, "--checkpoint_dir", out])
    if loader in ("fid", "ppl"):
        import metrics
        return metrics.main([loader, path] + ([data] if loader == "fid" else []))
    import digits
    return digits.main([path])


class Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise Timeout()


def load_within_limits(path, file_size, seconds=30):
    """Load with a time limit and return the peak of memory allocated meanwhile."""
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(seconds)
    tracemalloc.start()
    try:
        load_generator(path)
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    return peak


def zip_with_mutated_pickle(path, seed):
    """Torch zip archives whose data.pkl is mutated but still validly zipped."""
    with zipfile.ZipFile(path) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    pickle_name = next(name for name in entries if name.endswith("data.pkl"))
    for name, payload in mutations(entries[pickle_name], seed, count=10):
        rebuilt = dict(entries, **{pickle_name: payload})
        yield f"data.pkl {name}", rebuilt


@pytest.mark.parametrize("kind", ["ours", "stylegan_jittor", "torch_zip", "torch_legacy",
                                  "official"])
def test_fuzzed_checkpoints_load_or_give_one_line_errors(valid_files, tmp_path, kind):
    original = open(valid_files[kind], "rb").read()
    load_generator(valid_files[kind])  # compiles the model's operators outside the time limit
    cases = mutations(original, seed=len(kind))
    if kind == "torch_zip":
        for name, entries in zip_with_mutated_pickle(valid_files[kind], seed=1):
            rezipped = tmp_path / "rezipped.model"
            with zipfile.ZipFile(rezipped, "w", zipfile.ZIP_STORED) as archive:
                for entry, payload in entries.items():
                    archive.writestr(entry, payload)
            cases.append((name, rezipped.read_bytes()))
    cases.append(("nested 100000 deep", nested_pickle(100_000)))
    path = str(tmp_path / f"fuzzed.{'pkl' if kind == 'official' else 'model'}")
    outcomes, started = {"loaded": 0, "refused": 0}, time.time()
    for name, payload in cases:
        with open(path, "wb") as stream:
            stream.write(payload)
        try:
            peak = load_within_limits(path, len(payload))
            outcomes["loaded"] += 1
        except UsageError as error:
            message = str(error)
            assert "\n" not in message and path in message, f"{kind}, {name}: {message!r}"
            outcomes["refused"] += 1
            continue
        except Timeout:
            pytest.fail(f"{kind}, {name}: loading took over 30 s")
        except Exception as error:  # noqa: BLE001  (anything else is the defect looked for)
            pytest.fail(f"{kind}, {name}: {type(error).__name__}: {error}")
        assert peak < 8 * len(original) + 2**25, f"{kind}, {name}: {peak} bytes allocated"
    print(f"{kind}: {len(cases)} cases, {outcomes}, {time.time() - started:.1f} s")
    assert outcomes["refused"] > len(cases) // 3


def test_memory_bomb_arrays_are_refused_before_allocation(tmp_path):
    from formats.safe_pickle import FileFormatError, load_pickle

    bomb = np.zeros(4, np.float32)
    payload = bytearray(__import__("pickle").dumps(bomb, protocol=3))  # 3: no frames
    # declare a 2**40-element array while keeping the 16 data bytes
    shape_at = payload.index(b"K\x04\x85")  # BININT1 4, TUPLE1: the shape (4,)
    payload[shape_at:shape_at + 3] = b"\x8a\x06" + (2**40).to_bytes(6, "little") + b"\x85"
    tracemalloc.start()
    with pytest.raises(FileFormatError, match="does not match its 16 bytes"):
        load_pickle(bytes(payload))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 2**20


def png_header_only(width, height):
    """A PNG that declares width x height pixels and holds none: a decompression bomb's
    header (Pillow refuses it at open, before decoding)."""
    def chunk(kind, body):
        return (len(body).to_bytes(4, "big") + kind + body
                + zlib.crc32(kind + body).to_bytes(4, "big"))
    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


def write_hostile_images(folder):
    """{name: why it is bad} after writing each into folder (which holds good images too)."""
    good = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 10, 10)).save(good, format="PNG")
    bad = {"empty.png": b"", "truncated.png": good.getvalue()[:40],
           "text.jpg": b"just some text, not a JPEG\n",
           "bomb.png": png_header_only(40000, 40000), "wide_bomb.png": png_header_only(10**6, 100)}
    for name, payload in bad.items():
        (folder / name).write_bytes(payload)
    os.symlink("loop_b.png", folder / "loop_a.png")
    os.symlink("loop_a.png", folder / "loop_b.png")
    os.symlink("missing.png", folder / "dangling.png")
    os.mkfifo(folder / "pipe.png")  # opening it for reading would block forever
    names = sorted(bad) + ["loop_a.png", "loop_b.png", "dangling.png", "pipe.png"]
    if os.geteuid() != 0:  # root reads any file, so this case only exists for other users
        (folder / "locked.png").write_bytes(good.getvalue())
        os.chmod(folder / "locked.png", 0)
        names.append("locked.png")
    return names


def good_images(folder, count, size=16):
    for index in range(count):
        Image.new("RGB", (size, size), (index * 40, 100, 50)).save(folder / f"good{index}.png")


def test_resize_skips_every_kind_of_bad_image(tmp_path):
    import resize

    source = tmp_path / "data" / "16"
    source.mkdir(parents=True)
    good_images(source, 3)
    bad = write_hostile_images(source)
    started = time.time()
    summary = resizing.resize_folder(str(source), min_size=8, workers=2, progress=False)
    assert time.time() - started < 60  # the pipe did not block
    assert sorted(name for name, _ in summary["failures"]) == sorted(bad)
    assert all("\n" not in why for _, why in summary["failures"])
    assert summary["written"] == 3 and len(os.listdir(tmp_path / "data" / "8")) == 3
    logged = (tmp_path / "data" / "resize_skipped.txt").read_text().splitlines()
    assert sorted(line.split("\t")[0] for line in logged) == sorted(bad)
    lmdb_path = str(tmp_path / "data.lmdb")
    assert resizing.write_lmdb(str(source), lmdb_path, 16, 8, workers=2, progress=False) == 3


def test_dataset_skips_images_damaged_after_resize_and_lmdb_values(tmp_path, capfd):
    import lmdb
    import resize
    from dataset import MultiResolutionDataset, infinite_batches

    root = tmp_path / "data"
    (root / "16").mkdir(parents=True)
    good_images(root / "16", 6)
    resizing.resize_folder(str(root / "16"), min_size=8, workers=1, progress=False)
    lmdb_path = str(tmp_path / "data.lmdb")
    resizing.write_lmdb(str(root / "16"), lmdb_path, 16, 8, workers=1, progress=False)
    with lmdb.open(lmdb_path, map_size=2**24) as env, env.begin(write=True) as txn:
        txn.put(b"8-00002", b"\xff\xd8 not a jpeg any more")
        txn.delete(b"8-00004")
    folder_expected = {str(root / "8" / n) for n in ("good1.png", "good3.png")}
    lmdb_expected = {f"{lmdb_path}[8-00002]", f"{lmdb_path}[8-00004]"}
    # listed first, damaged afterwards: as when files change during a run
    runs = [(MultiResolutionDataset(data_root, 8, batch_size=3, num_workers=workers), expected)
            for data_root, expected in ((str(root), folder_expected), (lmdb_path, lmdb_expected))
            for workers in (0, 2)]
    os.remove(root / "8" / "good1.png")
    (root / "8" / "good3.png").write_bytes(b"\x89PNG damaged")
    for data, expected in runs:
        batches = infinite_batches(data)
        for _ in range(6):
            batch = next(batches).numpy()
            assert batch.shape == (3, 3, 8, 8) and np.isfinite(batch).all()
        batches.close()
        assert set(data.skipped) == expected, (data.root, data.loader_workers)
        err = capfd.readouterr().err
        assert sum("warning: skipping unreadable image" in line for line in err.splitlines()) == 2


def test_training_counts_skipped_images_in_its_log(tmp_path):
    import resize
    import train

    root = tmp_path / "data"
    (root / "16").mkdir(parents=True)
    good_images(root / "16", 5)
    resizing.resize_folder(str(root / "16"), min_size=8, workers=1, progress=False)
    (root / "8" / "good0.png").write_bytes(b"")
    train.main([str(root), "--init_size", "8", "--max_size", "8", "--iters", "5",
                "--log_every", "5", "--batch", "4", "--width", "16", "--code_dim", "16",
                "--n_mlp", "2", "--workers", "0", "--checkpoint_dir", str(tmp_path / "ckpt"),
                "--sample_dir", str(tmp_path / "sample"), "--sample_every", "100",
                "--device", "cpu"])
    rows = [json.loads(line) for line in open(tmp_path / "ckpt" / "log.jsonl")]
    assert rows[-1]["iteration"] == 5 and rows[-1]["skipped_images"] == 1


@pytest.fixture(scope="module")
def small_project(tmp_path_factory):
    """A tiny data root, a narrow checkpoint and its log, for command-line checks."""
    import resize
    import train

    folder = tmp_path_factory.mktemp("cli")
    (folder / "data" / "16").mkdir(parents=True)
    good_images(folder / "data" / "16", 4)
    resizing.resize_folder(str(folder / "data" / "16"), min_size=8, workers=1, progress=False)
    train.main([str(folder / "data"), "--init_size", "8", "--max_size", "8", "--iters", "2",
                "--log_every", "1", "--batch", "2", "--width", "16", "--code_dim", "16",
                "--n_mlp", "2", "--workers", "0", "--checkpoint_dir", str(folder / "ckpt"),
                "--sample_dir", str(folder / "sample"), "--device", "cpu"])
    return folder


# (script, arguments, what the one-line error must say); {data}, {ckpt}, {log}, {file} are filled in
BAD_COMMAND_LINES = [
    ("resize", ["{data}/16", "--min_size", "6"], "--min_size 6: must be a power of two"),
    ("resize", ["{data}/16", "--size", "0"], "--size 0: must be a power of two"),
    ("resize", ["{data}/16", "--workers", "0"], "--workers 0: must be at least 1"),
    ("resize", ["{data}/missing"], "missing: no such folder"),
    ("resize", ["--demo", "{data}/demo", "--count", "-3"], "--count -3: must be at least 1"),
    ("resize", ["{data}/16", "--lmdb", "{file}/out.lmdb"], "--lmdb {file}/out.lmdb: cannot"),
    ("train", ["{data}", "--init_size", "12"], "--init_size 12: must be a power of two"),
    ("train", ["{data}", "--batch", "0"], "--batch 0: must be at least 1"),
    ("train", ["{data}", "--iters", "-1"], "--iters -1: must be at least 1"),
    ("train", ["{data}", "--lr", "-1"], "--lr -1.0: must be a positive number"),
    ("train", ["{data}", "--r1_gamma", "nan"], "--r1_gamma nan: must be 0 or more"),
    ("train", ["{data}", "--workers", "-1"], "--workers -1: must be 0 or more"),
    ("train", ["{data}", "--code_dim", "0"], "--code_dim 0: must be at least 1"),
    ("train", ["{data}", "--stddev_group", "-2"], "--stddev_group -2: must be 0 or more"),
    ("train", ["{data}/missing"], "missing: no such data folder"),
    ("train", ["{data}", "--ckpt", "{data}/none.model"], "none.model: no such checkpoint file"),
    ("train", ["{data}", "--max_size", "8", "--checkpoint_dir", "{file}/ckpt"],
     "--checkpoint_dir {file}/ckpt: cannot write there"),
    ("generate", ["{ckpt}", "--size", "12"], "--size 12: must be a power of two"),
    ("generate", ["{ckpt}", "--n_row", "0"], "--n_row 0: must be at least 1"),
    ("generate", ["{ckpt}", "--out", "{file}/out"], "--out {file}/out: cannot write there"),
    ("generate", ["{data}/none.model"], "none.model: no such checkpoint file"),
    ("metrics", ["fid", "{ckpt}", "{data}", "--n", "0"], "--n must be at least 2"),
    ("metrics", ["fid", "{ckpt}", "{data}/missing"], "missing: no such data folder"),
    ("metrics", ["ppl", "{ckpt}", "--batch", "0"], "--batch at least 1"),
    ("metrics", ["ppl", "{ckpt}", "--size", "12"], "--size 12: must be a power of two"),
    ("digits", ["{ckpt}", "--count", "0"], "--count 0: must be at least 1"),
    ("plot", ["{data}/none.jsonl"], "none.jsonl: cannot read"),
    ("plot", ["{log}", "--out", "{file}/plot.png"], "--out {file}/plot.png: cannot write"),
]


@pytest.mark.parametrize("script,arguments,expected", BAD_COMMAND_LINES,
                         ids=[f"{s} {' '.join(a)}" for s, a, _ in BAD_COMMAND_LINES])
def test_bad_command_lines_give_one_line_errors(small_project, capsys, script, arguments,
                                                expected):
    import importlib

    from cli import run_cli

    names = {"data": str(small_project / "data"), "ckpt": str(small_project / "ckpt" / "last.model"),
             "log": str(small_project / "ckpt" / "log.jsonl"),
             "file": str(small_project / "data" / "16" / "good0.png")}  # a file, not a folder
    argv = [argument.format(**names) for argument in arguments]
    module = importlib.import_module(script)
    with pytest.raises(SystemExit) as exit_status:
        run_cli(module.main, argv)
    assert exit_status.value.code == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error")]
    assert len(errors) == 1 and expected.format(**names) in errors[0], errors
