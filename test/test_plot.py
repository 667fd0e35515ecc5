import json

import numpy as np
import pytest
from PIL import Image

import plot
from cli import UsageError
from training import plot as curves_plot
from training import log as curves_log


def record(iteration, size=8):
    return {"iteration": iteration, "size": size, "d_loss": 1.0 + iteration, "g_loss": -iteration,
            "penalty": 0.5, "img_per_s": 100.0}


def test_curves_keep_a_fixed_footprint_and_average_what_they_merge(monkeypatch):
    monkeypatch.setattr(curves_log, "MAX_POINTS", 8)
    curves = curves_log.TrainingCurves()
    values = np.random.RandomState(0).randn(1001) ** 2  # uneven, so only true means agree
    for i in range(1, 1001):
        curves.add({**record(i, size=8 if i <= 600 else 16), "d_loss": values[i]})
    assert len(curves.rows) < 2 * 8 and curves.stride > 1
    # every full row stands for `stride` consecutive records and holds their mean
    rows = np.array(curves.rows)
    covered = len(rows) * curves.stride
    expected = values[1:covered + 1].reshape(len(rows), curves.stride).mean(1)
    assert np.allclose(rows[:, curves_log.COLUMNS.index("d_loss")], expected)
    assert np.allclose(rows[:, 0], np.arange(1, covered + 1).reshape(-1, curves.stride).mean(1))
    # the records not yet making a full row are drawn too, as one more point
    columns = curves.columns()
    assert len(columns["iteration"]) == len(rows) + (covered < 1000)
    assert list(np.unique(columns["size"])) == [8, 16]


def test_plot_from_a_log_file_marks_resolutions(tmp_path):
    log = tmp_path / "log.jsonl"
    lines = [json.dumps(record(i * 10, 8 if i < 20 else 16)) for i in range(1, 41)]
    log.write_text("\n".join(lines) + "\n{\"iteration\": 41")  # a line cut short by a crash
    out = plot.main([str(log)])
    assert out == str(tmp_path / "log.png")
    image = np.asarray(Image.open(out).convert("RGB")).astype(int)
    assert image.shape == (3 * 200, 900, 3)
    d_colour, g_colour = np.array(curves_plot.PANELS[0][2][0]), np.array(curves_plot.PANELS[0][2][1])
    top_panel = image[:200]
    # d_loss rises, g_loss falls: the red curve ends higher (smaller y) than it starts
    red_rows = [np.flatnonzero((np.abs(top_panel[:, x] - d_colour).sum(1) == 0))
                for x in (75, 875)]
    assert len(red_rows[0]) and len(red_rows[1]) and red_rows[1].mean() < red_rows[0].mean()
    blue_rows = [np.flatnonzero((np.abs(top_panel[:, x] - g_colour).sum(1) == 0))
                 for x in (75, 875)]
    assert blue_rows[1].mean() > blue_rows[0].mean()
    # a dotted grey line where 16 px starts, about half way along
    grey = (np.abs(image[30:170] - 150).sum(2) == 0).sum(0)
    assert 400 < int(np.argmax(grey)) < 520


def test_plot_cli_errors_are_one_line(tmp_path):
    with pytest.raises(UsageError, match="cannot read"):
        plot.main([str(tmp_path / "missing.jsonl")])
    empty = tmp_path / "empty.jsonl"
    empty.write_text("not json\n")
    with pytest.raises(UsageError, match="no training records"):
        plot.main([str(empty)])


def test_a_figure_missing_from_the_log_is_left_blank(tmp_path):
    import warnings

    curves = curves_log.TrainingCurves()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "mean of empty slice" noise in a training log
        for i in range(1, 4):
            curves.add({"iteration": i, "size": 8, "d_loss": 0.5, "g_loss": 1.0})
        assert np.isnan(curves_log.merged(curves.rows)[curves_log.COLUMNS.index("penalty")])
        assert np.isnan(curves.columns()["img_per_s"]).all()
        curves_plot.draw_training_plot(curves, str(tmp_path / "p.png"))
    assert Image.open(tmp_path / "p.png").size == (900, 600)
