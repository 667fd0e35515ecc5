"""Class labels through resize.py: one subfolder per class, stylegan2-ada's dataset.json, the
LMDB and the demo; every resolution folder gets them, training reads them with each image,
and bad labels stop with one line naming the file."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import resize
from conftest import ROOT
from dataset import MultiResolutionDataset, infinite_batches
from imaging.labels import LabelError
from imaging.mnist import read_mnist


def write_images(folder, names, seed=0):
    rng = np.random.RandomState(seed)
    for name in names:
        path = os.path.join(folder, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        # each image's brightness says its class, so a test can tell which label came with it
        level = {"cat": 40, "dog": 200}.get(name.split("/")[0], rng.randint(255))
        pixels = np.full((20, 24, 3), level, np.uint8)
        Image.fromarray(pixels).save(path)


def test_class_subfolders_label_every_size_and_each_batch(tmp_path):
    names = [f"cat/{k}.jpg" for k in range(5)] + [f"dog/{k}.png" for k in range(3)]
    write_images(tmp_path / "16", names)
    resize.main([str(tmp_path / "16"), "--min_size", "4", "--workers", "1"])
    for size in (16, 8, 4):
        with open(tmp_path / str(size) / "dataset.json") as file:
            content = json.load(file)
        assert content["class_names"] == ["cat", "dog"]
        labels = dict(content["labels"])
        assert len(labels) == 8 and all(labels[n] == (n.startswith("dog")) for n in labels)
    data = MultiResolutionDataset(str(tmp_path), 8, batch_size=8, shuffle=True, flip=False)
    assert data.class_names() == ["cat", "dog"]
    data.labelled = True
    images, labels = next(infinite_batches(data))
    brightness = images.numpy().mean((1, 2, 3))
    assert sorted(labels.tolist()) == [0] * 5 + [1] * 3
    assert ((brightness > 0) == (labels == 1)).all()  # dog images are the bright ones


def test_dataset_json_source_and_lmdb_keep_labels_in_order(tmp_path):
    names = [f"img{k}.png" for k in range(6)]
    write_images(tmp_path / "8", names)
    given = {name: k % 3 for k, name in enumerate(names)}
    with open(tmp_path / "8" / "dataset.json", "w") as file:
        json.dump({"labels": [[n, k] for n, k in given.items()]}, file)
    resize.main([str(tmp_path / "8"), "--min_size", "4", "--workers", "1",
                 "--lmdb", str(tmp_path / "lmdb")])
    folder = MultiResolutionDataset(str(tmp_path), 4, shuffle=False, flip=False)
    assert folder.class_names() == ["0", "1", "2"]  # the numbers name the classes
    assert folder.source.labels(4)[0] == [given[n] for n in names]
    lmdb = MultiResolutionDataset(str(tmp_path / "lmdb"), 8, batch_size=6, shuffle=False,
                                  flip=False)
    assert lmdb.class_names() == ["0", "1", "2"]
    lmdb.labelled = True
    _, labels = lmdb.load_batch(np.arange(6), np.zeros(6, bool))
    assert labels.tolist() == [given[n] for n in names]


def test_the_demo_digits_carry_their_mnist_labels(demo_data):
    data = MultiResolutionDataset(demo_data, 16, flip=False)
    assert data.class_names() == [str(d) for d in range(10)]
    expected = read_mnist("train", labels=True)[:64]
    assert data.source.labels(16)[0] == expected.tolist()
    assert data.source.labels(32)[0] == expected.tolist()


def test_unlabelled_data_stays_unlabelled(tmp_path):
    write_images(tmp_path / "8", [f"a/{k}.png" for k in range(3)])  # one subfolder: no classes
    resize.main([str(tmp_path / "8"), "--min_size", "4", "--workers", "1"])
    assert not os.path.exists(tmp_path / "4" / "dataset.json")
    data = MultiResolutionDataset(str(tmp_path), 4, flip=False)
    assert data.class_names() is None
    data.labelled = True
    assert data.load_batch([0, 1], [False, False])[1].tolist() == [-1, -1]


def run_resize(*argv):
    return subprocess.run([sys.executable, os.path.join(ROOT, "resize.py"), *argv],
                          capture_output=True, text=True, cwd=ROOT)


@pytest.mark.parametrize("content, says", [
    ({"labels": [["img0.png", 0]]}, "img1.png: no label in"),
    ({"labels": [["img0.png", 0], ["img1.png", -2]]}, "is not a [path, class] pair"),
    ({"labels": [["img0.png", 0], ["img1.png", "cat"]]}, "is not a [path, class] pair"),
    ({"labels": [["img0.png", 0], ["img1.png", 1]], "class_names": ["only one"]},
     "must list a name for each of the 2 classes"),
])
def test_bad_labels_are_one_line_errors_naming_the_file(tmp_path, content, says):
    write_images(tmp_path / "8", ["img0.png", "img1.png"])
    with open(tmp_path / "8" / "dataset.json", "w") as file:
        json.dump(content, file)
    result = run_resize(str(tmp_path / "8"), "--min_size", "4", "--workers", "1")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0] and str(tmp_path / "8") in lines[0]
    assert not os.path.exists(tmp_path / "4")  # nothing written


def test_labels_missing_at_one_size_are_named(tmp_path):
    write_images(tmp_path / "8", ["cat/0.png", "dog/0.png"])
    resize.main([str(tmp_path / "8"), "--min_size", "4", "--workers", "1"])
    os.remove(tmp_path / "4" / "dataset.json")
    with pytest.raises(LabelError, match=r"4/dataset.json: missing while other sizes have"):
        MultiResolutionDataset(str(tmp_path), 4).class_names()
    write_images(tmp_path / "flat" / "8", ["x.png", "cat/y.png"])
    result = run_resize(str(tmp_path / "flat" / "8"), "--labels", "folders", "--min_size", "4")
    assert result.returncode == 2 and "--labels folders needs every image in a subfolder" \
        in result.stderr


def test_fit_pad_keeps_the_whole_image_on_black_and_writes_the_top_size(tmp_path):
    wide = np.zeros((10, 20, 3), np.uint8)
    wide[:, :5] = 250  # a bright band at the left edge: crop cuts it off, pad keeps it
    os.makedirs(tmp_path / "raw")
    Image.fromarray(wide).save(tmp_path / "raw" / "wide.png")
    resize.main([str(tmp_path / "raw"), "--size", "16", "--min_size", "8", "--fit", "pad",
                 "--workers", "1"])
    padded = np.asarray(Image.open(tmp_path / "16" / "wide.png")).astype(int)
    assert padded[:3].max() < 5 and padded[-3:].max() < 5  # black bands above and below
    assert padded[8, 1].min() > 200  # the bright band is there
    assert os.path.exists(tmp_path / "8" / "wide.png")
    resize.main([str(tmp_path / "raw"), "--size", "16", "--min_size", "8", "--workers", "1"])
    cropped = np.asarray(Image.open(tmp_path / "16" / "wide.png")).astype(int)
    assert cropped.max() < 5  # another fit rewrites the outputs: the band is cropped off now
    os.makedirs(tmp_path / "other" / "16")
    Image.fromarray(wide).save(tmp_path / "other" / "16" / "wide.png")
    result = run_resize(str(tmp_path / "other" / "16"), "--fit", "pad", "--min_size", "8")
    assert result.returncode == 2 and "is itself the 16 px folder training reads" in result.stderr
