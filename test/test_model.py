import inspect
import json
import math

import numpy as np
import pytest

import model
from cli import UsageError
from conftest import NARROW, data_path, max_diff, randn
from runtime import jt
import convolution
from convolution import avg_pool2, blur_by_slices, direct, resampling, upsample_nearest
from model import (Blur, Discriminator, EqualConv2d, EqualLinear, StyledGenerator,
                   crossover_styles, minibatch_stddev, truncate)


def narrow_pair():
    return StyledGenerator(**NARROW), Discriminator(width=NARROW["width"])


def test_shapes_at_every_step_narrow():
    g, d = narrow_pair()
    for step in range(9):
        size = 4 * 2**step
        z = randn(1, NARROW["code_dim"], seed=step)
        alpha = 0.5 if step else -1
        image = g(z, step=step, alpha=alpha)
        assert image.shape == (1, 3, size, size)
        score = d(image, step=step, alpha=alpha)
        assert score.shape == (1, 1)
        assert np.isfinite(score.numpy()).all()


def test_full_width_forward_4_to_16px():
    g, d = StyledGenerator(), Discriminator()
    for step in range(3):
        size = 4 * 2**step
        image = g(randn(2, 512, seed=step), step=step, alpha=0.3)
        assert image.shape == (2, 3, size, size)
        assert np.isfinite(image.numpy()).all()
        assert d(image, step=step, alpha=0.3).shape == (2, 1)


def test_full_size_parameter_counts():
    g, d = StyledGenerator(), Discriminator()

    def count(module, prefix=""):
        return sum(v.numel() for k, v in module.state_dict().items()
                   if k.startswith(prefix) and k != "w_avg")

    assert count(g) == 26_219_115
    assert count(g, "generator.") == 24_117_867
    assert count(g, "style.") == 2_101_248
    assert count(d) == 25_444_737
    assert count(Discriminator(from_rgb_activate=True)) == 25_444_737


def test_state_dict_layout_matches_rosinality():
    reference = json.load(open(data_path("rosinality_state_dict_keys.json")))
    for ours, theirs in [(StyledGenerator(), reference["generator"]),
                         (Discriminator(from_rgb_activate=True), reference["discriminator"])]:
        # rosinality keeps blur kernels as buffers; ours are stateless
        theirs = {k: v for k, v in theirs.items()
                  if not (k.endswith(".weight_flip") or k + "_flip" in theirs)}
        shapes = {k: list(v.shape) for k, v in ours.state_dict().items() if k != "w_avg"}
        assert shapes == theirs


def test_equalised_weight_is_scaled_at_forward_and_never_stored():
    conv = EqualConv2d(4, 6, 3, padding=1)
    x = randn(2, 4, 5, 5)
    expected = jt.nn.conv2d(x, conv.conv.weight_orig * math.sqrt(2 / (4 * 9)), conv.conv.bias,
                            padding=1)
    assert max_diff(conv(x), expected) < 1e-5
    assert not hasattr(conv.conv, "weight")
    assert set(conv.state_dict()) == {"conv.weight_orig", "conv.bias"}
    linear = EqualLinear(8, 3)
    v = randn(5, 8)
    assert max_diff(linear(v), v.numpy() @ (linear.linear.weight_orig.numpy().T * math.sqrt(2 / 8))) < 1e-5
    assert len(linear.parameters()) == 2
    # initial values: N(0, 1) weights, zero biases
    w = EqualConv2d(256, 256, 3).conv.weight_orig.numpy()
    assert abs(w.std() - 1) < 0.01 and abs(w.mean()) < 0.01


def blur_numpy(a):
    padded = np.pad(a, ((0, 0), (0, 0), (1, 1), (1, 1)))
    kernel = np.outer([1, 2, 1], [1, 2, 1]) / 16
    out = np.zeros_like(a)
    for dy in range(3):
        for dx in range(3):
            out += kernel[dy, dx] * padded[:, :, dy:dy + a.shape[2], dx:dx + a.shape[3]]
    return out


def finite_difference(f, x, eps=1e-5):
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[index] += eps
        down[index] -= eps
        grad[index] = (f(up) - f(down)) / (2 * eps)
    return grad


def test_blur_value_and_gradients_match_finite_differences():
    x, w, v = (randn(2, 3, 5, 6, seed=s) for s in (1, 2, 3))
    xn, wn, vn = (a.numpy().astype(np.float64) for a in (x, w, v))
    assert max_diff(Blur(3)(x), blur_numpy(xn)) < 1e-6
    assert max_diff(blur_by_slices(x), blur_numpy(xn)) < 1e-6  # the path CUDA takes

    def loss(a):
        return (blur_numpy(a) ** 3 * wn).sum()

    first = jt.grad((Blur(3)(x) ** 3 * w).sum(), x)
    assert max_diff(first, finite_difference(loss, xn)) < 1e-4

    def first_grad_dot_v(a):  # d/dx of sum(grad * v) is the second derivative times v
        return (blur_numpy(3 * blur_numpy(a) ** 2 * wn) * vn).sum()

    second = jt.grad((first * v).sum(), x)
    reference = finite_difference(first_grad_dot_v, xn)
    assert np.abs(reference).max() > 0.1
    assert max_diff(second, reference) < 1e-4


def conv3x3_numpy(x, w):
    padded = np.pad(x, [(0, 0), (0, 0), (1, 1), (1, 1)])
    height, width = x.shape[2:]
    return sum(np.einsum("nihw,oi->nohw", padded[:, :, dy:dy + height, dx:dx + width],
                         w[:, :, dy, dx]) for dy in range(3) for dx in range(3))


def resampling_conv_numpy(x, w, resample):
    if resample == "up":
        return conv3x3_numpy(x.repeat(2, 2).repeat(2, 3), w)
    out = conv3x3_numpy(x, w)
    n, c, h, w_ = out.shape
    return out.reshape(n, c, h // 2, 2, w_ // 2, 2).mean((3, 5))


@pytest.mark.parametrize("resample, size", [("up", 3), ("down", 6)])
def test_resampling_conv_value_and_weight_gradient_match_numpy(resample, size):
    """On oneDNN, upsample + conv and conv + pool run as one stride-2 4x4 conv."""
    assert convolution.direct_available()  # the CPU path under test
    conv = EqualConv2d(3, 4, 3, 1, resample=resample)
    out_size = size * 2 if resample == "up" else size // 2
    x, v = randn(2, 3, size, size, seed=1), randn(2, 4, out_size, out_size, seed=2)
    multiplier = math.sqrt(2 / 27)  # equalised learning rate: fan-in 3 x 3 x 3
    weight = conv.conv.weight_orig.numpy().astype(np.float64) * multiplier
    bias = conv.conv.bias.numpy().astype(np.float64)
    xn, vn = x.numpy().astype(np.float64), v.numpy().astype(np.float64)
    reference = resampling_conv_numpy(xn, weight, resample) + bias.reshape(1, -1, 1, 1)
    assert max_diff(conv(x), reference) < 1e-5

    def loss(w):
        return ((resampling_conv_numpy(xn, w.reshape(weight.shape) * multiplier, resample)
                 + bias.reshape(1, -1, 1, 1)) ** 3 * vn).sum()

    grad = jt.grad((conv(x) ** 3 * v).sum(), conv.conv.weight_orig)
    reference = finite_difference(loss, weight / multiplier)
    assert max_diff(grad, reference) < 1e-3 * np.abs(reference).max()


def cudnn_wiring_on_cpu_ops():
    """The three functions wired as on cuDNN (which reads only oihw kernels, so input-major
    ones are transposed), built on oneDNN's CPU operators, which take the same arguments."""
    cpu = jt.mkl_ops
    return direct.library_ops(cpu.mkl_conv, cpu.mkl_conv_backward_x, cpu.mkl_conv_backward_w,
                              weight_layouts=("oihw",))


@pytest.mark.parametrize("wiring", ["oneDNN", "cuDNN's"])
@pytest.mark.parametrize("layer, size", [
    (lambda: EqualConv2d(5, 6, 3, 1), 4), (lambda: EqualConv2d(5, 6, 3, 1, resample="up"), 4),
    (lambda: EqualConv2d(5, 6, 3, 1, resample="down"), 8),
    (lambda: model.FusedUpsample(5, 6, 3, 1), 4), (lambda: model.FusedDownsample(5, 6, 3, 1), 8)],
    ids=["conv", "up", "down", "fused up", "fused down"])
def test_direct_convolutions_every_order_match_jittors_graph(layer, size, wiring, monkeypatch):
    """Value, input gradient and the gradient of a penalty on it (R1's double backward) of
    each convolution the model uses, called directly, against Jittor's own nn graph."""
    if wiring == "cuDNN's":
        wired = cudnn_wiring_on_cpu_ops()
        monkeypatch.setattr(direct, "_conv_ops", lambda weight_shape: wired)
    conv = layer()
    parameters = conv.parameters()
    x = randn(2, 5, size, size, seed=3)

    def value_gradient_and_penalty_gradient():
        inputs = x.clone()
        out = conv(inputs)
        first = jt.grad((out * out * out).sum(), inputs)
        second = jt.grad((first * first).sum(), parameters)
        return [out.numpy(), first.numpy()] + [g.numpy() for g in second]

    called_directly = value_gradient_and_penalty_gradient()
    monkeypatch.setattr(convolution, "direct_available", lambda: False)
    plain = value_gradient_and_penalty_gradient()
    assert len(plain) == 2 + len(parameters)
    for ours, reference in zip(called_directly, plain):
        assert np.abs(reference).max() > 1e-3
        assert np.abs(ours - reference).max() < 1e-5 * np.abs(reference).max()


def test_cuda_convolution_path_switch(monkeypatch):
    monkeypatch.setenv("STYLEGAN_CUDA_CONV", "cudnn")
    assert direct.read_cuda_path() == "cudnn"
    monkeypatch.setenv("STYLEGAN_CUDA_CONV", "jittor")
    assert direct.read_cuda_path() == "jittor"
    monkeypatch.setenv("STYLEGAN_CUDA_CONV", "cublas")
    with pytest.raises(UsageError, match="STYLEGAN_CUDA_CONV=cublas: choose jittor or cudnn"):
        direct.read_cuda_path()


def test_minibatch_stddev_value_and_gradient():
    x = randn(4, 3, 4, 4)
    out = minibatch_stddev(x)
    assert out.shape == (4, 4, 4, 4)
    xn = x.numpy().astype(np.float64)
    expected = np.sqrt(xn.var(0) + 1e-8).mean()
    assert np.allclose(out.numpy()[:, 3], expected, atol=1e-6)
    assert max_diff(out[:, :3], x) == 0
    grad = jt.grad(out[:, 3].sum(), x).numpy()
    reference = finite_difference(lambda a: 16 * 4 * np.sqrt(a.var(0) + 1e-8).mean(), xn)
    assert np.abs(grad).max() > 0.01
    assert np.abs(grad - reference).max() < 1e-3


def test_minibatch_stddev_official_groups():
    x = randn(8, 2, 4, 4)
    xn = x.numpy().astype(np.float64)
    out = minibatch_stddev(x, group_size=4).numpy()[:, 2, 0, 0]
    grouped = xn.reshape(4, 2, 2, 4, 4)  # sample n is in group slot n % 2
    per_slot = np.sqrt(grouped.var(0) + 1e-8).mean((1, 2, 3))
    assert np.allclose(out, [per_slot[n % 2] for n in range(8)], atol=1e-6)


def test_discriminator_stddev_gradient_reaches_input():
    d = Discriminator(width=16)
    x = randn(3, 3, 8, 8)
    grad = jt.grad(d(x, step=1).sum(), x).numpy()
    assert np.isfinite(grad).all() and np.abs(grad).max() > 0


def test_generator_fade_endpoints():
    g = StyledGenerator(**NARROW)
    z = randn(2, NARROW["code_dim"])
    noise = g.make_noise(2, 3)
    new_only = g(z, noise=noise, step=3, alpha=-1)
    assert max_diff(g(z, noise=noise, step=3, alpha=1), new_only) < 1e-6
    previous = g(z, noise=noise[:3], step=2)
    assert max_diff(g(z, noise=noise, step=3, alpha=0), upsample_nearest(previous)) < 1e-6
    halfway = g(z, noise=noise, step=3, alpha=0.25)
    assert max_diff(halfway, 0.75 * upsample_nearest(previous) + 0.25 * new_only) < 1e-5


def test_discriminator_fade_endpoints():
    d = Discriminator(width=16)
    x = randn(2, 3, 32, 32)
    assert max_diff(d(x, step=3, alpha=1), d(x, step=3)) < 1e-6
    assert max_diff(d(x, step=3, alpha=0), d(avg_pool2(x), step=2)) < 1e-5


def test_crossover_styles():
    a, b = "A", "B"
    assert crossover_styles([a, b], 5, mixing_range=(0, 1))[:8] == [b] * 4 + [a] * 4
    assert crossover_styles([a], 5) == [a] * 18
    assert crossover_styles([a, b], 0) == [a] * 18  # no block below step 0 to switch at
    seen = set()
    for _ in range(200):
        layers = crossover_styles([a, b], 4)
        switch = layers.index(b)
        assert layers == [a] * switch + [b] * (18 - switch)
        seen.add(switch)
    assert seen == {2, 4, 6, 8}  # the switch follows one of the blocks below the step


def test_official_crossover_switches_at_any_layer_in_use():
    """NVIDIA's mixing: cutoff uniform in [1, layers in use), layers from it take w2."""
    a, b = "A", "B"
    for step, expected in ((0, {1}), (3, set(range(1, 8)))):
        seen = set()
        for _ in range(300):
            layers = crossover_styles([a, b], step, crossover="layer")
            switch = layers.index(b)
            assert layers == [a] * switch + [b] * (18 - switch)
            seen.add(switch)
        assert seen == expected
    assert crossover_styles([a], 3, crossover="layer") == [a] * 18


def test_generator_mixing_uses_each_latent_on_its_blocks():
    g = StyledGenerator(**NARROW)
    z1, z2 = randn(2, NARROW["code_dim"], seed=1), randn(2, NARROW["code_dim"], seed=2)
    noise = g.make_noise(2, 3)
    assert max_diff(g([z1, z2], noise=noise, step=3, mixing_range=(0, 8)), g(z2, noise=noise, step=3)) < 1e-6
    explicit = [g([z1, z2], noise=noise, step=3, mixing_range=(k, 8)).numpy() for k in (1, 2, 3)]
    for _ in range(5):
        mixed = g([z1, z2], noise=noise, step=3).numpy()
        assert min(np.abs(mixed - e).max() for e in explicit) < 1e-6
    assert min(np.abs(explicit[0] - e).max() for e in explicit[1:]) > 1e-3


def test_truncation():
    g = StyledGenerator(**NARROW)
    z = randn(4, NARROW["code_dim"])
    noise = [n[:1].broadcast(n.shape) for n in g.make_noise(4, 2)]  # one noise for all
    mean = g.mean_style(randn(64, NARROW["code_dim"], seed=5))
    plain = g(z, noise=noise, step=2)
    # identity up to float rounding (mean + 1 * (w - mean))
    assert max_diff(g(z, noise=noise, step=2, mean_style=mean, style_weight=1), plain) < 1e-4
    collapsed = g(z, noise=noise, step=2, mean_style=mean, style_weight=0).numpy()
    assert np.abs(collapsed - collapsed[:1]).max() < 1e-5
    assert np.abs(plain.numpy() - plain.numpy()[:1]).max() > 1e-2


def test_truncation_cutoff_moves_only_the_first_layers():
    w, mean = jt.array([2.0]), jt.array([0.0])
    moved = truncate([w] * 18, mean, 0.5, cutoff=8)
    assert [float(s.item()) for s in moved] == [1.0] * 8 + [2.0] * 10
    assert [float(s.item()) for s in truncate([w] * 4, mean, 0.5)] == [1.0] * 4


def test_w_avg_moving_average():
    g = StyledGenerator(**NARROW)
    batch_mean = jt.ones(NARROW["code_dim"])
    g.update_w_avg(batch_mean, beta=0.995)
    g.update_w_avg(batch_mean, beta=0.995)
    assert np.allclose(g.w_avg.numpy(), 1 - 0.995**2)
    assert "w_avg" in g.state_dict()
    assert g.w_avg.is_stop_grad()  # a buffer: the optimizers never update it


def test_model_code_never_syncs_with_the_host():
    """...but where a constant is made: a blur kernel of a new width, the fold matrices."""
    source = inspect.getsource(model)
    for maker in (convolution.blur_kernel, resampling.fold_matrix):
        source = source.replace(inspect.getsource(maker), "")
    for call in (".numpy()", ".item()", ".data", ".sync("):
        assert call not in source


def test_grey_generator_averages_the_same_weights():
    rgb, grey = StyledGenerator(**NARROW), StyledGenerator(**NARROW, grey=True)
    assert list(grey.state_dict()) == list(rgb.state_dict())
    grey.load_state_dict(rgb.state_dict())
    z = randn(2, NARROW["code_dim"])
    noise = [randn(2, 1, 4 * 2**b, 4 * 2**b, seed=b) for b in range(3)]
    colour = rgb(z, noise=noise, step=2, alpha=0.5).numpy()
    drawn = grey(z, noise=noise, step=2, alpha=0.5).numpy()
    assert np.abs(colour[:, 0] - colour[:, 1]).max() > 1e-3
    for channel in range(3):
        assert np.abs(drawn[:, channel] - colour.mean(1)).max() < 1e-5


@pytest.mark.parametrize("step, alpha", [(0, -1), (1, 1.0), (2, 0.5), (3, -1)])
def test_modules_in_use_are_exactly_those_the_output_depends_on(step, alpha):
    """train_only_what_runs trusts modules_in_use to name every parameter a forward at this
    step and alpha reads, and no other: checked against the gradients of the output."""
    generator, discriminator = StyledGenerator(**NARROW), Discriminator(width=16)
    size = 4 * 2**step
    images = randn(2, 3, size, size)
    for model, output in ((generator, lambda: generator(randn(2, 16), step=step, alpha=alpha)),
                          (discriminator, lambda: discriminator(images, step=step, alpha=alpha))):
        params = [p for p in model.parameters() if not p.is_stop_grad()]
        out = output()
        grads = jt.grad((out * randn(*out.shape, seed=5)).sum(), params)
        reached = {id(p) for p, g in zip(params, grads) if np.abs(g.numpy()).max() > 0}
        in_use = {id(p) for module in model.modules_in_use(step, alpha)
                  for p in module.parameters()}
        assert reached == in_use & {id(p) for p in params}
        assert len(reached) < len(params)  # blocks not grown yet are left out
