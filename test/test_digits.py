import numpy as np
import pytest

import digits
from formats.checkpoints import save_checkpoint, to_numpy_tree
from conftest import NARROW
from model import StyledGenerator
from cli import UsageError
from evaluation import digits as digit_measures


@pytest.fixture(scope="module")
def classifier():
    return digit_measures.trained_classifier()


def test_classifier_reads_real_test_digits(classifier):
    grey, labels = digit_measures.mnist_grey("t10k")
    predicted = classifier.probabilities(digit_measures.features(grey)).argmax(1)
    assert (predicted == labels).mean() > 0.94
    report = digit_measures.digit_report(classifier, grey[:2000])
    assert report["recognised"] > 0.75 and report["classes_seen"] == 10
    assert sum(report["per_class"]) == round(report["recognised"] * 2000)


def test_a_one_class_set_is_reported_as_that_class(classifier):
    grey, labels = digit_measures.mnist_grey("t10k")
    eights = grey[labels == 8][:300]
    report = digit_measures.digit_report(classifier, eights)
    assert report["per_class"][8] >= 0.9 * sum(report["per_class"])
    assert report["recognised"] > 0.5


def test_a_low_resolution_checkpoint_is_a_one_line_error(tmp_path):
    path = str(tmp_path / "8px.model")
    state = to_numpy_tree(StyledGenerator(**NARROW).state_dict())
    save_checkpoint({**state, "meta": {"size": 8, "alpha": 1.0}}, path)
    with pytest.raises(UsageError, match="8px.model: digit check needs 16 or 32 px"):
        digits.main([path, "--count", "4"])


def test_grey_levels_take_the_brightest_channel_and_upsample_16px():
    tinted = np.zeros((2, 16, 16, 3), np.uint8)
    tinted[0, 4:12, 7, 2] = 255  # a blue stroke
    grey = digit_measures.grey_levels(tinted)
    assert grey.shape == (2, 32, 32)
    assert grey[0, 8:24, 14:16].min() == 1.0 and grey[0].sum() == 32 and grey[1].max() == 0
    with pytest.raises(ValueError, match="16 or 32 px"):
        digit_measures.grey_levels(np.zeros((1, 8, 8, 3), np.uint8))


def test_channel_difference_is_zero_for_grey_and_the_mean_over_channel_pairs():
    grey = np.random.RandomState(0).randint(0, 256, (3, 16, 16, 1)).astype(np.uint8)
    assert digit_measures.channel_difference(grey.repeat(3, -1)) == 0.0
    reddish = np.zeros((2, 16, 16, 3), np.uint8)
    reddish[..., 0] = 30  # |R - G| = 30, |G - B| = 0, |R - B| = 30
    reddish[1, :8, :, 2] = 60  # half of one image: |G - B| = 60, |R - B| = 30
    expected = np.mean([30, (0 + 60 / 2) / 2, 30])
    assert digit_measures.channel_difference(reddish) == pytest.approx(expected)


class DigitRenderer:
    """Stands in for generate.py's Renderer: each latent draws a real MNIST digit (16 px),
    and a mixed cell draws the digit of its target (rows) or of its source (columns)."""

    def __init__(self, follow):
        grey, _ = digit_measures.mnist_grey("t10k")
        small = grey[:500].reshape(500, 16, 2, 16, 2).mean((2, 4))
        self.digits = np.repeat(small[:, None] * 2 - 1, 3, 1).astype(np.float32)
        self.follow, self.step = follow, 2

    def noise(self, rng, count):
        return [rng.randn(count, 1, 4, 4).astype(np.float32)]

    def __call__(self, latents, noise, mixing_range=(-1, -1)):
        if isinstance(latents, list):
            latents = latents[0 if self.follow == "target" else 1]
        return self.digits[(np.abs(latents[:, 0]) * 1e4).astype(int) % len(self.digits)]


def test_mixing_report_tells_copied_sources_from_mixed_rows(classifier):
    copies = digit_measures.mixing_report(classifier, DigitRenderer("source"), np.random.RandomState(0),
                                  8, (0, 0))
    assert copies["unlike_source"] == copies["row_difference"] == 0.0
    assert copies["source_difference"] == 0.0 and copies["sample_difference"] > 10
    mixed = digit_measures.mixing_report(classifier, DigitRenderer("target"), np.random.RandomState(0),
                                 8, (0, 0))
    assert mixed["unlike_source"] > 0.6  # 25 random digits of ten classes against 5
    assert mixed["row_difference"] > 10 and mixed["source_difference"] > 10


def test_share_of_requested_classes_adds_their_confident_reads(classifier, tmp_path, capsys,
                                                               monkeypatch):
    monkeypatch.setattr(digits, "trained_classifier", lambda: classifier)  # trained once
    path = str(tmp_path / "16px.model")
    state = to_numpy_tree(StyledGenerator(**NARROW, grey=True).state_dict())
    save_checkpoint({**state, "meta": {"size": 16, "alpha": 1.0, "grey": True}}, path)
    report = digits.main([path, "--count", "16", "--classes", "5-9"])
    assert report["share_of_classes"] == sum(report["per_class"][5:]) / 16
    assert report["share_of_classes"] <= report["recognised"]
    assert "of the samples read as 5-9" in capsys.readouterr().out
    with pytest.raises(UsageError, match="--classes 11: digits are 0 to 9"):
        digits.main([path, "--count", "4", "--classes", "11"])


class RealDigitsOfTheClass:
    """A renderer that 'draws' real test digits of its class (digit 3 asked for class 1,
    the others their own), so the conditional report can be checked against known answers."""

    def __init__(self):
        grey, self.labels = digit_measures.mnist_grey("t10k")
        self.digits = grey * 2 - 1
        self.generator = type("G", (), {"w_avg": np.zeros(4)})()
        self.classes = None

    def noise(self, rng, count):
        return []

    def __call__(self, z, noise, classes=None):
        wanted = {1: 3}.get(self.classes, self.classes)
        pool = self.digits[self.labels == wanted]
        picked = pool[np.random.RandomState(len(z)).randint(len(pool), size=len(z))]
        return np.repeat(picked[:, None], 3, 1)


def test_the_conditional_report_reads_each_requested_class(classifier):
    render = RealDigitsOfTheClass()
    render.classes = "as before"
    report = digit_measures.conditional_report(classifier, render, 200, 0,
                                               ["0", "1", "2", "cat"])
    assert render.classes == "as before"  # the caller's classes are left as they were
    assert sorted(report) == ["0", "1", "2"]  # "cat" names no digit
    for name in ("0", "2"):
        assert report[name]["of_confident"] > 0.95 and report[name]["of_all"] > 0.7
    assert report["1"]["of_all"] < 0.05  # threes drawn when ones were asked for
