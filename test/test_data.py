import hashlib
import os
import re

import numpy as np
import pytest
from PIL import Image

import dataset as dataset_module
import resize
from dataset import MultiResolutionDataset, infinite_batches
from cli import UsageError
import imaging
from imaging import resizing
from imaging import mnist


def save(image, path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    image.save(path)


@pytest.fixture
def messy(tmp_path):
    """data/64 with every kind of file a user's folder holds."""
    source = tmp_path / "data" / "64"
    s = str(source)
    save(Image.new("RGB", (64, 64), (10, 200, 30)), f"{s}/ok.png")
    save(Image.new("L", (80, 80), 90), f"{s}/gray.jpg")
    rgba = Image.new("RGBA", (64, 64), (255, 0, 0, 0))  # fully transparent red
    rgba.paste((0, 0, 255, 255), (16, 16, 48, 48))
    save(rgba, f"{s}/alpha.PNG")
    save(Image.new("RGB", (64, 64), (200, 50, 50)).convert("P", palette=Image.ADAPTIVE), f"{s}/palette.png")
    save(Image.new("CMYK", (70, 70), (0, 255, 255, 0)), f"{s}/cmyk.jpg")
    save(Image.fromarray(np.full((64, 64), 32768, dtype=np.uint16)), f"{s}/deep.png")
    wide = Image.new("RGB", (120, 40), (255, 0, 0))
    wide.paste((0, 0, 255), (40, 0, 80, 40))  # only the centre 40 px are blue
    save(wide, f"{s}/wide.bmp")
    save(Image.new("RGB", (5, 5), (0, 0, 0)), f"{s}/tiny.webp")
    save(Image.new("RGB", (64, 64), (1, 2, 3)), f"{s}/nested/deeper/upper.TIF")
    save(Image.new("RGB", (64, 64), (9, 9, 9)), f"{s}/twin.png")
    save(Image.new("RGB", (64, 64), (99, 99, 99)), f"{s}/twin.jpg")
    (source / "corrupt.jpg").write_bytes(os.urandom(300))
    good_png = (source / "ok.png").read_bytes()
    (source / "truncated.png").write_bytes(good_png[: len(good_png) // 2])
    (source / "notes.txt").write_text("not an image")
    return source


def snapshot(folder):
    return {os.path.relpath(os.path.join(d, n), folder):
            hashlib.sha1(open(os.path.join(d, n), "rb").read()).hexdigest()
            for d, _, names in os.walk(folder) for n in names}


def output_image(root, size, name):
    image = Image.open(root / str(size) / name)
    assert image.size == (size, size) and image.mode == "RGB"
    return np.asarray(image).astype(int)


def test_resize_messy_folder(messy):
    before = snapshot(messy)
    summary = resizing.resize_folder(str(messy), min_size=8, workers=2, progress=False)
    root = messy.parent
    assert summary["size"] == 64 and summary["sizes"] == [32, 16, 8]
    assert sorted(name for name, _ in summary["failures"]) == ["corrupt.jpg", "truncated.png"]
    assert summary["written"] == 11
    log = open(summary["log"]).read()
    assert "corrupt.jpg" in log and "truncated.png" in log
    for size in (32, 16, 8):
        names = imaging.list_images(str(root / str(size)))
        assert len(names) == 11
        for name in names:
            output_image(root, size, name)
    assert snapshot(messy) == before  # sources untouched, nothing added among them
    assert (output_image(root, 32, "alpha.png")[0, 0] == 255).all()  # transparent -> white
    assert abs(output_image(root, 32, "alpha.png")[16, 16][2] - 255) < 3
    assert abs(output_image(root, 8, "deep.png").mean() - 128) < 2  # 16-bit rescaled
    assert (output_image(root, 16, "wide.png")[..., 2] > 200).all()  # centre crop kept blue
    assert output_image(root, 32, "cmyk.png")[..., 0].mean() > 200  # CMYK (0,255,255,0) is red
    assert output_image(root, 8, "nested/deeper/upper.png").shape == (8, 8, 3)
    assert output_image(root, 8, "twin.png.png").mean() < 20  # both twins kept apart
    assert output_image(root, 8, "twin.jpg.png").mean() > 80
    again = resizing.resize_folder(str(messy), min_size=8, workers=2, progress=False)
    assert again["written"] == 0 and again["up_to_date"] == 11


def test_resize_errors_are_one_line(tmp_path, capsys):
    cases = [([str(tmp_path / "missing")], "no such folder"),
             ([str(tmp_path)], "not a resolution; pass --size"),
             ([str(tmp_path), "--size", "100"], "must be a power of two"),
             ([str(tmp_path), "--size", "64", "--min_size", "128"], "--min_size 128"),
             ([str(tmp_path), "--size", "64"], "no images found")]
    for argv, message in cases:
        with pytest.raises(SystemExit) as exit_info:
            resize.main(argv)
        assert exit_info.value.code == 2
        error = capsys.readouterr().err.strip()
        assert error.startswith("error: ") and message in error and "\n" not in error


def test_lmdb_round_trip(messy, tmp_path):
    lmdb_path = str(tmp_path / "lmdb")
    count = resizing.write_lmdb(str(messy), lmdb_path, 64, min_size=16, workers=2, progress=False)
    assert count == 11
    import lmdb

    with lmdb.open(lmdb_path, readonly=True, lock=False) as env, env.begin() as txn:
        assert txn.get(b"length") == b"11"
        assert Image.open(__import__("io").BytesIO(txn.get(b"16-00010"))).format == "JPEG"
        assert txn.get(b"8-00000") is None
    data = MultiResolutionDataset(lmdb_path, 16, batch_size=4, shuffle=False, flip=False)
    assert data.resolutions == [16, 32, 64]
    from_lmdb = data[0]
    resizing.resize_folder(str(messy), min_size=16, workers=2, progress=False)
    folder = MultiResolutionDataset(str(messy.parent), 16, shuffle=False, flip=False)
    assert from_lmdb.shape == (3, 16, 16)
    assert np.abs(from_lmdb - folder[0]).max() < 0.05  # JPEG quality 100 vs PNG


@pytest.fixture
def demo(tmp_path):
    root = str(tmp_path / "demo")
    resizing.build_demo(root, count=40, progress=False)
    resizing.resize_folder(os.path.join(root, "32"), min_size=8, workers=2, progress=False)
    return root


def test_demo_set_is_the_first_mnist_digits(demo):
    names = imaging.list_images(os.path.join(demo, "32"))
    assert len(names) == 40
    pixels = np.stack([np.asarray(Image.open(os.path.join(demo, "32", n))) for n in names])
    assert pixels.shape == (40, 32, 32, 3)
    assert (pixels[..., 0] == pixels[..., 1]).all() and (pixels[..., 0] == pixels[..., 2]).all()
    digits = mnist.read_mnist()[:40]
    assert (pixels[:, 2:30, 2:30, 0] == digits).all()  # padded, never resampled
    assert (pixels[:, :2] == 0).all() and (pixels[:, :, 30:] == 0).all()  # black border


def test_demo_of_some_digits_holds_the_first_of_those_classes(tmp_path, capsys):
    import resize

    root = tmp_path / "few"
    assert resize.main(["--demo", str(root), "--digits", "5-7,9", "--count", "12",
                        "--min_size", "16", "--workers", "1"]) is None
    names = imaging.list_images(str(root / "32"))
    pixels = np.stack([np.asarray(Image.open(root / "32" / n))[2:30, 2:30, 0] for n in names])
    labels = mnist.read_mnist(labels=True)
    wanted = np.flatnonzero(np.isin(labels, [5, 6, 7, 9]))[:12]
    assert len(names) == 12 and (pixels == mnist.read_mnist()[wanted]).all()
    assert resizing.parse_digit_classes("0,2-3") == [0, 2, 3]
    with pytest.raises(SystemExit):
        resize.main(["--demo", str(tmp_path / "bad"), "--digits", "5-x"])
    assert "--digits 5-x: give digits as 5-9 or 0,2,4" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()


def test_dataset_batches(demo):
    data = MultiResolutionDataset(demo, 8, batch_size=16, flip=False)
    batch = next(iter(data))
    assert tuple(batch.shape) == (16, 3, 8, 8) and str(batch.dtype) == "float32"
    values = batch.numpy()
    assert values.min() >= -1 and values.max() <= 1 and values.min() < -0.5 and values.max() > 0.5
    data.set_resolution(32, batch_size=8)
    assert tuple(next(iter(data)).shape) == (8, 3, 32, 32)
    assert len(list(data)) == 5  # 40 images, drop_last


def test_flip_mirrors_or_keeps(demo):
    plain = MultiResolutionDataset(demo, 16, flip=False)[3]
    flipping = MultiResolutionDataset(demo, 16, flip=True)
    seen = {"same": 0, "mirrored": 0}
    for _ in range(40):
        item = flipping[3]
        if np.array_equal(item, plain):
            seen["same"] += 1
        else:
            assert np.array_equal(item, plain[:, :, ::-1])
            seen["mirrored"] += 1
    assert seen["same"] > 5 and seen["mirrored"] > 5


def test_switching_resolution_reuses_scans(demo, monkeypatch):
    calls = []
    real_list_images = dataset_module.list_images
    monkeypatch.setattr(dataset_module, "list_images", lambda f: calls.append(f) or real_list_images(f))
    data = MultiResolutionDataset(demo, 8)
    data.set_resolution(16)
    data.set_resolution(8)
    data.set_resolution(16)
    assert sorted(os.path.basename(c) for c in calls) == ["16", "8"]


def test_workers_follow_resolution_changes_mid_epoch(demo):
    """Switching while loader processes are mid-epoch (as at a new training step) must
    neither crash nor serve stale sizes; each epoch serves every image once."""
    data = MultiResolutionDataset(demo, 8, batch_size=8, num_workers=2, flip=False)
    for size in (8, 16, 8, 32, 16):
        data.set_resolution(size)
        batches = infinite_batches(data)
        assert tuple(next(batches).shape) == (8, 3, size, size)
        batches.close()
    epoch = [next(batches).numpy() for batches in [infinite_batches(data)] for _ in range(5)]
    serial = [data[i] for i in range(40)]
    assert sorted(b.tobytes() for batch in epoch for b in batch) == \
        sorted(item.tobytes() for item in serial)


def test_batches_are_a_function_of_seed_and_position(demo):
    """Same batches, flips included, with or without loader processes, and from any batch
    on (resume): batch k of a fresh stream equals batch k of one started at k."""
    def stream(workers, start=0, count=6, flip=True):
        data = MultiResolutionDataset(demo, 16, batch_size=8, num_workers=workers, seed=3,
                                      flip=flip)
        batches = infinite_batches(data, start=start)
        taken = [next(batches).numpy() for _ in range(count)]
        batches.close()
        return taken

    serial, loaded, resumed = stream(0), stream(2), stream(2, start=4, count=2)
    assert all(np.array_equal(a, b) for a, b in zip(serial, loaded))
    assert all(np.array_equal(a, b) for a, b in zip(serial[4:], resumed))
    assert not np.array_equal(serial[0], serial[1])
    plain = [image for batch in stream(0, flip=False) for image in batch]
    mirrored = [not np.array_equal(a, b) and np.array_equal(a, b[:, :, ::-1])
                for a, b in zip((image for batch in serial for image in batch), plain)]
    assert 10 < sum(mirrored) < 38  # same order; about half the images flipped


def test_missing_resolution_names_the_fix(demo, tmp_path):
    data = MultiResolutionDataset(demo, 8)
    with pytest.raises(UsageError, match=r"no 4 px images \(available: 8, 16, 32 px\); make "
                                         r"them with python resize.py .*/32 --min_size 4"):
        data.set_resolution(4)
    with pytest.raises(UsageError, match="no such data folder"):
        MultiResolutionDataset(str(tmp_path / "nowhere"))
    with pytest.raises(UsageError, match="holds images but no resolution folders"):
        MultiResolutionDataset(os.path.join(demo, "32"))
    parent = os.path.dirname(demo)  # as after the README demo: data/demo holds the folders
    with pytest.raises(UsageError, match=f"did you mean {re.escape(demo)}\\?"):
        MultiResolutionDataset(parent)


def test_image_damaged_after_resize_is_skipped_with_one_warning(demo, capfd):
    bad = os.path.join(demo, "32", "zz_unlisted.png")
    with open(bad, "wb") as stream:
        stream.write(b"not a png")  # added after resize.py ran, so not in its skip list
    try:
        for workers in (0, 2):
            data = MultiResolutionDataset(demo, 32, batch_size=41, num_workers=workers)
            batches = infinite_batches(data)
            for _ in range(3):  # three epochs: the file is met three times, warned about once
                assert next(batches).shape == (41, 3, 32, 32)
            batches.close()
            assert list(data.skipped) == [bad]
            warnings = [line for line in capfd.readouterr().err.splitlines() if "zz_unlisted" in line]
            assert warnings == [f"warning: skipping unreadable image {bad} "
                                "(UnidentifiedImageError: cannot identify image file "
                                f"'{bad}')"], workers
    finally:
        os.remove(bad)


def test_greyscale_data_is_recognised(demo, tmp_path):
    assert MultiResolutionDataset(demo, 8).looks_grey()
    colour = tmp_path / "colour" / "8"
    colour.mkdir(parents=True)
    for index in range(5):
        pixels = np.full((8, 8, 3), 100, np.uint8)
        if index == 3:  # one image of five with a tinted pixel is enough to say colour
            pixels[2, 2] = (100, 104, 100)
        Image.fromarray(pixels).save(colour / f"{index}.png")
    assert not MultiResolutionDataset(str(tmp_path / "colour"), 8).looks_grey()
