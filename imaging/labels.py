"""Class labels of a folder of images: stylegan2-ada's dataset.json, or one subfolder per class.

A resolution folder with labels holds a `dataset.json` as stylegan2-ada's dataset tool
writes it, `{"labels": [["cat/0001.png", 0], ...]}` (paths relative to the folder), with our
`"class_names"` beside it (absent: the labels' numbers are their names).
"""
import json
import os

from cli import UsageError

LABELS_FILE = "dataset.json"


class LabelError(UsageError):
    """Missing, unknown or inconsistent labels (printed as one line)."""


def read_labels_file(folder):
    """{relative path: label} and the class names, or (None, None) without a dataset.json."""
    path = os.path.join(folder, LABELS_FILE)
    if not os.path.exists(path):
        return None, None
    try:
        with open(path) as file:
            content = json.load(file)
    except (OSError, ValueError) as error:
        raise LabelError(f"{path}: not readable as JSON ({error})") from None
    entries = content.get("labels") if isinstance(content, dict) else None
    if entries is None:
        return None, None  # stylegan2-ada writes "labels": null for unlabelled data
    if not isinstance(entries, list):
        raise LabelError(f"{path}: \"labels\" must be a list of [path, class] pairs")
    labels = {}
    for entry in entries:
        if (not isinstance(entry, list) or len(entry) != 2 or not isinstance(entry[0], str)
                or not isinstance(entry[1], int) or isinstance(entry[1], bool) or entry[1] < 0):
            raise LabelError(f"{path}: {json.dumps(entry)[:80]} is not a [path, class] pair "
                             "with a class number from 0")
        labels[os.path.normpath(entry[0])] = entry[1]
    names = content.get("class_names")
    count = max(labels.values(), default=-1) + 1
    if names is None:
        names = [str(k) for k in range(count)]
    if not isinstance(names, list) or len(names) < count or \
            not all(isinstance(n, str) for n in names):
        raise LabelError(f"{path}: \"class_names\" must list a name for each of the "
                         f"{count} classes")
    return labels, names


def write_labels_file(folder, labels, class_names):
    """dataset.json of `folder`: labels is {relative path: class}."""
    path = os.path.join(folder, LABELS_FILE)
    content = {"labels": [[name, int(label)] for name, label in sorted(labels.items())],
               "class_names": list(class_names)}
    temporary = path + ".tmp"
    with open(temporary, "w") as file:
        json.dump(content, file)
    os.replace(temporary, path)


def subfolder_labels(names):
    """Labels from one subfolder per class ({path: class}, class names), or (None, None)
    when the images are not all in first-level subfolders of at least two classes."""
    parts = [name.split(os.sep) for name in names]
    if any(len(p) < 2 for p in parts):
        return None, None
    class_names = sorted({p[0] for p in parts})
    if len(class_names) < 2:
        return None, None
    index = {name: k for k, name in enumerate(class_names)}
    return {name: index[p[0]] for name, p in zip(names, parts)}, class_names


def source_labels(folder, names, how="auto"):
    """The labels of a source folder's images, by `how`: "json" (its dataset.json),
    "folders" (one subfolder per class), "none", or "auto" (dataset.json when there is one,
    else subfolders when every image is in one). Returns ({path: class}, class names) or
    (None, None); an image without a label is an error naming it."""
    if how == "none":
        return None, None
    labels, class_names = read_labels_file(folder) if how in ("auto", "json") else (None, None)
    if labels is None and how == "json":
        raise LabelError(f"{os.path.join(folder, LABELS_FILE)}: no labels there "
                         "(--labels json needs one)")
    if labels is None and how in ("auto", "folders"):
        labels, class_names = subfolder_labels(names)
        if labels is None and how == "folders":
            raise LabelError(f"{folder}: --labels folders needs every image in a subfolder "
                             "named after its class, and at least two of them")
    if labels is not None:
        for name in names:
            if os.path.normpath(name) not in labels:
                raise LabelError(f"{os.path.join(folder, name)}: no label in "
                                 f"{os.path.join(folder, LABELS_FILE)}; add it, or remove "
                                 "the image")
    return labels, class_names


def folder_labels(folder, names):
    """Labels of a resolution folder's images, in the order of `names`, and the class names;
    (None, None) when the folder has no labels."""
    labels, class_names = read_labels_file(folder)
    if labels is None:
        return None, None
    missing = [n for n in names if os.path.normpath(n) not in labels]
    if missing:
        raise LabelError(f"{os.path.join(folder, missing[0])}: no label in "
                         f"{os.path.join(folder, LABELS_FILE)} ({len(missing)} images have "
                         "none); run resize.py again on the labelled source")
    return [labels[os.path.normpath(n)] for n in names], class_names
