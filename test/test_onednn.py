"""bfloat16 convolutions on AMX (onednn/): values against float64, every order of gradient
against float32, and what the scripts do where there is no AMX."""
import numpy as np
import pytest

import onednn
import runtime
from conftest import randn
from runtime import jt
import cli
import convolution
import training.state
from convolution import direct
from convolution.direct import conv as onednn_conv
from convolution.direct import conv_input_grad as onednn_conv_input_grad
from convolution.direct import conv_weight_grad as onednn_conv_weight_grad
from model import Discriminator

needs_amx = pytest.mark.skipif(not convolution.bf16_available(),
                               reason="bfloat16 convolutions need a CPU with AMX")


def conv_numpy(x, w, stride, padding):
    k = w.shape[2]
    x = np.pad(x, [(0, 0), (0, 0), (padding, padding), (padding, padding)])
    out_size = (x.shape[2] - k) // stride + 1
    span = stride * (out_size - 1) + 1
    return sum(np.einsum("nihw,oi->nohw", x[:, :, dy:dy + span:stride, dx:dx + span:stride],
                         w[:, :, dy, dx]) for dy in range(k) for dx in range(k))


def relative_error(ours, reference):
    return np.abs(ours.numpy() - reference).max() / np.abs(reference).max()


@needs_amx
@pytest.mark.parametrize("kernel, stride", [(3, 1), (4, 2), (1, 1)])
def test_bf16_conv_and_its_gradients_match_float64(kernel, stride):
    x, w = randn(2, 32, 8, 8, seed=1), randn(48, 32, kernel, kernel, seed=2)
    padding = kernel // 2 if kernel == 3 else (1 if kernel == 4 else 0)
    xn, wn = x.numpy().astype(np.float64), w.numpy().astype(np.float64)
    y_ref = conv_numpy(xn, wn, stride, padding)
    v = randn(*y_ref.shape, seed=3)
    vn = v.numpy().astype(np.float64)
    convolution.set_precision("bfloat16")
    y = onednn_conv(x, w, stride, padding)
    grad_x, grad_w = jt.grad((y * v).sum(), [x, w])
    # the references: d<conv(x, w), v>/dx and /dw by finite sums, exactly (linear in each)
    grad_x_ref = np.zeros_like(xn)
    grad_w_ref = np.zeros_like(wn)
    for dy in range(kernel):
        for dx in range(kernel):
            span = stride * (y_ref.shape[2] - 1) + 1
            padded = np.pad(xn, [(0, 0), (0, 0), (padding, padding), (padding, padding)])
            window = padded[:, :, dy:dy + span:stride, dx:dx + span:stride]
            grad_w_ref[:, :, dy, dx] = np.einsum("nihw,nohw->oi", window, vn)
            back = np.zeros_like(padded)
            back[:, :, dy:dy + span:stride, dx:dx + span:stride] = np.einsum(
                "nohw,oi->nihw", vn, wn[:, :, dy, dx])
            grad_x_ref += back[:, :, padding:padding + 8, padding:padding + 8]
    for ours, reference in ((y, y_ref), (grad_x, grad_x_ref), (grad_w, grad_w_ref)):
        error = relative_error(ours, reference)
        # bfloat16 keeps 8 significant bits: rounding shows, but no more than that
        assert 1e-5 < error < 1e-2, error
    convolution.set_precision("float32")
    assert relative_error(onednn_conv(x, w, stride, padding), y_ref) < 1e-5


@needs_amx
def test_bf16_kernel_read_input_major_is_the_transposed_conv():
    w = randn(32, 48, 4, 4, seed=4)  # in, out, kh, kw: the upsampling kernel's layout
    y = randn(2, 48, 4, 4, seed=5)
    v = randn(2, 32, 8, 8, seed=6)

    def value_and_gradients(precision):
        convolution.set_precision(precision)
        out = onednn_conv_input_grad(w, y, (8, 8), 2, 1, "iohw")
        return [out] + jt.grad((out * v).sum(), [w, y])

    ours = value_and_gradients("bfloat16")
    oihw = jt.array(np.ascontiguousarray(w.numpy().transpose(1, 0, 2, 3)))
    convolution.set_precision("float32")
    reference = onednn_conv_input_grad(oihw, y, (8, 8), 2, 1).numpy()
    assert 1e-5 < relative_error(ours[0], reference) < 1e-2
    for half, full in zip(ours, value_and_gradients("float32")):
        assert 1e-5 < relative_error(half, full.numpy()) < 1e-2


def test_rgb_convolutions_stay_float32():
    convolution.set_precision("bfloat16")
    assert direct._conv_ops((32, 3)) is direct.float32_ops()
    assert direct._conv_ops((3, 32)) is direct.float32_ops()
    assert direct._conv_ops((32, 16))[0] is onednn.conv
    with pytest.raises(ValueError):
        convolution.set_precision("float16")


@needs_amx
def test_bf16_penalty_gradients_follow_float32():
    """WGAN-GP differentiates D twice; in bfloat16 the parameters' gradients point where the
    float32 ones do."""
    discriminator = Discriminator(width=32)
    real = randn(4, 3, 16, 16, seed=6)

    def gradients():
        inputs = real.clone()
        score = discriminator(inputs, step=2, alpha=1)
        grad_in = jt.grad(score.sum(), inputs)
        penalty = ((grad_in.reshape(4, -1).norm(dim=1) - 1) ** 2).mean()
        loss = -score.mean() + 10 * penalty
        return np.concatenate([g.numpy().ravel() for g in
                               jt.grad(loss, discriminator.parameters())])

    full = gradients()
    convolution.set_precision("bfloat16")
    half = gradients()
    cosine = full @ half / np.linalg.norm(full) / np.linalg.norm(half)
    assert 0.99 < cosine < 1 - 1e-9, cosine


def test_bfloat16_without_amx_is_a_one_line_error(monkeypatch):
    monkeypatch.setattr(runtime, "amx_ready", False)
    with pytest.raises(cli.UsageError, match="--precision bfloat16: needs"):
        training.state.resolved_precision("bfloat16")
    assert training.state.resolved_precision("auto") == "float32"


def test_amx_can_be_switched_off_before_jittor_starts():
    import os
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {key: value for key, value in os.environ.items() if key != "DNNL_MAX_CPU_ISA"}
    probe = ("import os, runtime, convolution; print(runtime.amx_ready, convolution.bf16_available(), "
             "os.environ.get('DNNL_MAX_CPU_ISA'))")
    off = subprocess.run([sys.executable, "-c", probe], cwd=root, capture_output=True,
                         text=True, env={**env, "STYLEGAN_AMX": "0"})
    assert off.stdout.split() == ["False", "False", "None"], off.stdout + off.stderr
    on = subprocess.run([sys.executable, "-c", probe], cwd=root, capture_output=True,
                        text=True, env=env)
    expected = (["True", "True", "AVX512_CORE_AMX"] if convolution.bf16_available()
                else ["False", "False", "None"])
    assert on.stdout.split() == expected, on.stdout + on.stderr
