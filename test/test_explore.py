"""explore.py's server, driven over HTTP: images, settings, downloads, bad requests, the
render worker, the token."""
import http.client
import io
import json
import os
import re
import subprocess
import sys
import threading

import numpy as np
import pytest
from PIL import Image

import explore
import generate
from conftest import NARROW, ROOT, trained_looking_generator
from formats.checkpoints import to_numpy_tree
from model import StyledGenerator
from runtime import jt
from explorer import page
from explorer.server import MAX_WAITING, HttpError, RenderWorker
from formats.checkpoints import save_checkpoint
from pt_writer import write_pt_zip


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("explore")
    _, state = trained_looking_generator()
    ours = str(folder / "ours.model")
    save_checkpoint({**state, "meta": {"size": 16, "alpha": 1.0}}, ours)
    rosinality = str(folder / "train_step-3.model")
    write_pt_zip({"g_running": {k: v for k, v in state.items() if k != "w_avg"}}, rosinality)
    direction = str(folder / "to3.npy")
    np.save(direction, np.random.RandomState(1).randn(NARROW["code_dim"]).astype(np.float32))
    conditional = str(folder / "classes.model")
    g = StyledGenerator(**NARROW, n_classes=3)
    for name, var in g.state_dict().items():
        if ".noise" in name:
            var.update(jt.ones(var.shape))
    save_checkpoint({**to_numpy_tree(g.state_dict()), "meta": {
        "size": 16, "alpha": 1.0, "n_classes": 3, "class_names": ["cat", "dog", "bird"]}},
        conditional)
    return {"ours": ours, "rosinality": rosinality, "direction": direction,
            "conditional": conditional}


@pytest.fixture(scope="module")
def server(files):
    args = explore.parse_args([files["ours"], files["rosinality"], files["conditional"],
                               "--directions", files["direction"], "--port", "0", "--device",
                               "cpu"])
    explorer = explore.build(args)
    httpd = explore.serve(explorer, "127.0.0.1", 0)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd, explorer
    httpd.shutdown()
    httpd.server_close()


def request(server, path, headers=None, method="GET"):
    httpd, _ = server
    port = httpd.server_address[1]
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request(method, path, headers={"Host": f"127.0.0.1:{port}", **(headers or {})})
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response.status, dict(response.getheaders()), body


def image(server, query, fresh=True):
    if fresh:
        server[1].cache.clear()
    status, headers, body = request(server, "/api/render?" + query)
    assert status == 200, body
    assert headers["Content-Type"] == "image/png"
    return body


def pixels(png):
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def test_a_render_is_a_png_of_the_checkpoints_size_and_repeats(server):
    first = image(server, "seed=3")
    assert Image.open(io.BytesIO(first)).size == (16, 16)
    assert image(server, "seed=3") == first  # rendered again, same bytes
    assert image(server, "seed=4") != first
    assert pixels(first).std() > 5  # an image, not a blank


def test_psi_zero_gives_one_image_for_every_seed(server):
    images = {image(server, f"seed={seed}&psi=0&noise=random&noise_seed=7") for seed in (0, 1, 2)}
    assert len(images) == 1
    assert image(server, "seed=0&psi=0.7&noise=random&noise_seed=7") not in images
    # a cutoff keeps the layers above it untruncated
    assert image(server, "seed=0&psi=0&cutoff=2&noise=random") != image(server,
                                                                       "seed=1&psi=0&cutoff=2&noise=random")


def test_mixing_with_no_blocks_is_a_and_with_all_blocks_is_b(server):
    a, b = image(server, "seed=3&mix=5"), image(server, "seed=5&mix=3")
    assert image(server, "seed=3&mix=5&blocks=") == a
    assert image(server, "seed=3&mix=5&blocks=0,1,2") == b
    coarse = image(server, "seed=3&mix=5&blocks=0,1")
    assert coarse not in (a, b)
    assert image(server, "seed=3&mix=5&lerp=1") == b  # interpolation's far end is B
    assert image(server, "seed=3&mix=5&lerp=0.5") not in (a, b)


def test_direction_strength_zero_is_the_base_image(server, files):
    base = image(server, "seed=2")
    assert image(server, "seed=2&d0=0") == base
    assert image(server, "seed=2&d0=3") != base
    # strength s adds s times the direction to every layer's w
    direction = np.load(files["direction"])

    def latent(query):
        with np.load(io.BytesIO(request(server, "/api/latent?" + query)[2])) as saved:
            return saved["latent"]

    moved = latent("seed=2&d0=3") - latent("seed=2")
    np.testing.assert_allclose(moved, np.broadcast_to(3 * direction, moved.shape), atol=1e-5)


def test_noise_off_random_and_seeded(server):
    off, random_ = image(server, "seed=2&noise=off"), image(server, "seed=2&noise=random")
    assert off != random_
    assert image(server, "seed=2&noise=random&noise_seed=1") != random_
    status, _, body = request(server, "/api/render?seed=2&noise=stored")
    assert status == 400 and b"holds no noise maps" in body


def test_the_downloaded_latent_renders_through_generate_to_the_same_image(server, files,
                                                                          tmp_path):
    query = "seed=6&mix=9&blocks=1&lerp=0.3&psi=0.6&cutoff=4&d0=1.5&noise=random&noise_seed=4"
    shown = pixels(image(server, query))
    status, headers, body = request(server, "/api/latent?" + query)
    assert status == 200 and headers["Content-Disposition"] == 'attachment; filename="seed6.npz"'
    latent = tmp_path / "seed6.npz"
    latent.write_bytes(body)
    generate.main([files["ours"], "--latents", str(latent), "--out", str(tmp_path / "out"),
                   "--zoom", "1", "--device", "cpu"])
    grid = np.asarray(Image.open(tmp_path / "out" / "latents.png").convert("RGB"))
    np.testing.assert_array_equal(grid[2:18, 2:18], shown)


def test_every_checkpoint_kind_and_the_unknown_name(server):
    info = json.loads(request(server, "/api/info")[2])
    names = [model["name"] for model in info["models"]]
    assert names == ["ours.model", "train_step-3.model", "classes.model"]
    assert info["directions"] == ["to3.npy"]
    assert [m["classes"] for m in info["models"]] == [[], [], ["cat", "dog", "bird"]]
    # the rosinality file holds the same weights, read without its training metadata
    other = image(server, "model=train_step-3.model&seed=3")
    assert Image.open(io.BytesIO(other)).size == (128, 128)  # no size recorded: 128 px
    status, _, body = request(server, "/api/render?model=..%2F..%2Fetc%2Fpasswd")
    assert status == 400 and b"no checkpoint named" in body


def test_a_conditional_model_draws_the_chosen_class(server):
    cat, dog = (pixels(image(server, f"model=classes.model&seed=5&class={k}")) for k in (0, 1))
    assert np.abs(cat.astype(int) - dog).max() > 0
    assert np.array_equal(pixels(image(server, "model=classes.model&seed=5")), cat)  # class 0
    # psi 0 draws the class's centre: one image per class, whatever the seed
    centre = [pixels(image(server, f"model=classes.model&seed={s}&class=2&psi=0")) for s in (1, 9)]
    assert np.array_equal(*centre)
    status, _, body = request(server, "/api/render?model=classes.model&class=3")
    assert status == 400 and b"class: 3 is outside 0..2" in body
    status, _, body = request(server, "/api/render?model=ours.model&class=1")
    assert status == 400 and b"this checkpoint is unconditional" in body


@pytest.mark.parametrize("path, headers, method, status, message", [
    ("/api/render?seed=abc", {}, "GET", 400, "seed: 'abc' is not a whole number"),
    ("/api/render?psi=nan", {}, "GET", 400, "psi: 'nan' is not a finite number"),
    ("/api/render?psi=3", {}, "GET", 400, "psi: 3 is outside -1..2"),
    ("/api/render?seed=-1", {}, "GET", 400, "seed: -1 is outside"),
    ("/api/render?blocks=0,9", {}, "GET", 400, "blocks: 9 is outside 0..2"),
    ("/api/render?colour=red", {}, "GET", 400, "colour: not a setting"),
    ("/api/render?seed=1&seed=2", {}, "GET", 400, "seed: given twice"),
    ("/api/render?seed=" + "1" * 3000, {}, "GET", 414, "longer than"),
    ("/../../etc/passwd", {}, "GET", 404, "no such page"),
    ("/test/test_explore.py", {}, "GET", 404, "no such page"),
    ("/", {"Host": "evil.example:80"}, "GET", 403, "Host header refused"),
    ("/api/render", {"Origin": "http://evil.example"}, "GET", 403, "Origin"),
    ("/api/render", {}, "POST", 405, "only GET"),
])
def test_bad_requests_get_their_status_and_the_server_keeps_serving(server, path, headers,
                                                                    method, status, message):
    got, response_headers, body = request(server, path, headers, method)
    assert got == status, body
    assert message in json.loads(body)["error"]
    assert body.count(b"\n") == 1  # one line, no traceback
    assert request(server, "/api/render?seed=1")[0] == 200


def test_eight_renders_at_once_all_come_back_right(server):
    server[1].cache.clear()
    results = {}

    def fetch(seed):
        results[seed] = request(server, f"/api/render?seed={seed}&psi=0.9&client=c{seed}")

    threads = [threading.Thread(target=fetch, args=(seed,)) for seed in range(20, 28)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for seed, (status, _, body) in results.items():
        assert status == 200
        assert body == image(server, f"seed={seed}&psi=0.9")


def test_the_newest_request_of_a_slot_wins_and_the_queue_is_bounded():
    worker = RenderWorker()
    release = threading.Event()
    blocker = worker.submit("busy", lambda: release.wait(10) and "done")
    while "busy" in worker.waiting:  # until the worker has taken it
        pass
    older = worker.submit("page/render", lambda: "older", order=1)
    newer = worker.submit("page/render", lambda: "newer", order=3)
    late = worker.submit("page/render", lambda: "late", order=2)  # arrived after 3
    assert older.done.is_set() and older.error.status == 204
    assert late.done.is_set() and late.error.status == 204
    others = [worker.submit(f"other{i}", lambda: "x") for i in range(MAX_WAITING - 1)]
    with pytest.raises(HttpError) as full:
        worker.submit("one too many", lambda: "x")
    assert full.value.status == 503
    release.set()
    for job in [blocker, newer] + others:
        assert job.done.wait(10)
    assert (blocker.result, newer.result) == ("done", "newer")


def test_the_page_is_offline_and_locked_down(server):
    status, headers, body = request(server, "/")
    assert status == 200 and headers["Content-Security-Policy"] == "default-src 'self'"
    for content_type, text in page.FILES.values():
        assert not re.search(rb"https?:|//[a-z]", text.replace(b"'//'", b"")), content_type
    assert b"<script>" not in page.FILES["/"][1] and b"style=" not in page.FILES["/"][1]


def test_another_host_needs_the_token_and_says_so(files):
    process = subprocess.Popen([sys.executable, os.path.join(ROOT, "explore.py"), files["ours"],
                                "--host", "0.0.0.0", "--port", "0", "--device", "cpu"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        address = re.search(r"http://0\.0\.0\.0:(\d+)/\?token=([\w-]+)", line)
        assert address, line
        port, token = address.groups()
        connection = http.client.HTTPConnection("127.0.0.1", int(port), timeout=60)
        for query, status in (("", 403), ("?token=wrong", 403), (f"?token={token}", 200)):
            connection.request("GET", "/api/info" + query, headers={"Host": f"myhost:{port}"})
            response = connection.getresponse()
            response.read()
            assert response.status == status, query
    finally:
        process.terminate()
        _, err = process.communicate(timeout=30)
    assert "warning: --host 0.0.0.0 lets other machines reach this page" in err


def test_bad_command_lines_are_one_line(files, capsys):
    for argv, message in (([files["ours"] + ".missing"], "no such file"),
                          ([files["ours"], "--port", "70000"], "--port 70000"),
                          ([files["ours"], "--directions", files["ours"]], "not a direction file")):
        with pytest.raises(SystemExit) as exit_:
            explore.run_cli(explore.main, argv + ["--device", "cpu"])
        assert exit_.value.code == 2
        error = capsys.readouterr().err.strip().splitlines()[-1]
        assert error.startswith("error: ") and message in error


def test_nvidias_pickle_with_its_stored_noise_and_its_latent(tmp_path):
    """NVIDIA's own 32 px file (a noise map per layer, stored in the file): the default noise is
    the stored one, and the downloaded latent renders through generate.py to the same image."""
    from conftest import data_path
    from explorer import Explorer, ModelView, serve

    path = data_path("official_small_32.pkl")
    httpd = serve(Explorer({"nvidia": ModelView(path)}, []), "127.0.0.1", 0)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    site = (httpd, None)
    try:
        status, _, body = request(site, "/api/info")
        assert json.loads(body)["models"][0]["stored_noise"] is True
        stored = request(site, "/api/render?seed=5")[2]
        assert stored == request(site, "/api/render?seed=5&noise=stored")[2]
        assert stored != request(site, "/api/render?seed=5&noise=random")[2]
        assert Image.open(io.BytesIO(stored)).size == (32, 32)
        latent = tmp_path / "seed5.npz"
        latent.write_bytes(request(site, "/api/latent?seed=5&blocks=0")[2])
        generate.main([path, "--latents", str(latent), "--out", str(tmp_path / "out"),
                       "--zoom", "1", "--device", "cpu"])
        grid = np.asarray(Image.open(tmp_path / "out" / "latents.png").convert("RGB"))
        shown = pixels(request(site, "/api/render?seed=5&blocks=0")[2])
        np.testing.assert_array_equal(grid[2:34, 2:34], shown)
    finally:
        httpd.shutdown()
        httpd.server_close()
