"""How runtime.py prepares Jittor for a CUDA toolkit it does not support as it is (CUDA 13,
cuDNN 9, libraries from pip's nvidia-* wheels), checked on a stand-in toolkit: no GPU needed.
(`python benchmark.py cuda_compile` builds Jittor's real CUDA parts through the same code.)"""
import os
import shutil
import subprocess
import sys

import pytest

import runtime
from conftest import ROOT
import cuda13.toolkit
import cuda13.libraries
import cuda13
from cuda13 import jittor_fixes

# the lines of Jittor 1.3.11's extern/cuda/inc/helper_cuda.h that use fields CUDA 13 removed
HELPER_LINES = """  if (deviceProp.computeMode == cudaComputeModeProhibited) {
    if (deviceProp.computeMode != cudaComputeModeProhibited) {
                              sm_per_multiproc * deviceProp.clockRate;
        (deviceProp.computeMode != cudaComputeModeProhibited)) {
"""


def touch(path, text=""):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as file:
        file.write(text)


def fake_toolkit(base, release="13.0", cudnn_major=9, with_libraries=True):
    """A toolkit whose nvcc answers --version and -dryrun as NVIDIA's does, reached through a
    wrapper script elsewhere (as /usr/local/bin/nvcc is on the CI image), plus a pip site."""
    root = base / f"cuda-{release}"
    touch(root / "bin" / "nvcc", "#!/bin/sh\n"
          f'case "$*" in *-dryrun*) echo "#$ TOP={root}/bin/.." >&2;; '
          f'*) echo "Cuda compilation tools, release {release}, V{release}.88";; esac\n')
    os.chmod(root / "bin" / "nvcc", 0o755)
    touch(root / "include" / "cuda_runtime.h")
    touch(root / "include" / "cccl" / "nv" / "target")
    touch(root / "lib64" / "libcudart.so.13")
    wrapper = base / "usr" / "bin" / "nvcc"
    touch(wrapper, f'#!/bin/sh\nexec "{root}/bin/nvcc" "$@"\n')
    os.chmod(wrapper, 0o755)
    site = base / "site"
    if with_libraries:
        cu = site / "nvidia" / f"cu{release.split('.')[0]}"
        for name, version in (("cublas", 13), ("curand", 10), ("cufft", 12), ("cusparse", 12)):
            touch(cu / "include" / f"{name}.h")
            touch(cu / "lib" / f"lib{name}.so.{version}")
        touch(cu / "lib" / "libcublasLt.so.13")
        touch(site / "nvidia" / "cublas" / "include" / "cublas.h")  # a CUDA 12 wheel beside
        touch(site / "nvidia" / "cublas" / "lib" / "libcublas.so.12")
        cudnn = site / "nvidia" / "cudnn"
        touch(cudnn / "include" / "cudnn.h")
        touch(cudnn / "include" / "cudnn_version.h", f"#define CUDNN_MAJOR {cudnn_major}\n")
        for name in ("cudnn", "cudnn_ops", "cudnn_cnn", "cudnn_graph"):
            touch(cudnn / "lib" / f"lib{name}.so.{cudnn_major}")
    return root, wrapper, site


@pytest.fixture(autouse=True)
def stand_in_libraries_only(monkeypatch):
    """On a machine with a real CUDA (a GPU machine) its libraries must not mix in."""
    monkeypatch.setattr(cuda13.libraries, "SYSTEM_HEADERS", ())
    monkeypatch.setattr(cuda13.libraries, "SYSTEM_LIBRARIES", ())
    monkeypatch.setattr(cuda13.libraries, "python_sites", lambda: [])


# and of src/misc/cuda_flags.cc
DEVICE_COUNT_LINES = """    static int count=-1;
    if (count==-1)
        cudaGetDeviceCount(&count);
    return count;
"""


def fake_jittor(base):
    folder = base / "jittor"
    touch(folder / "extern" / "cuda" / "inc" / "helper_cuda.h", HELPER_LINES)
    touch(folder / "src" / "misc" / "cuda_flags.cc", DEVICE_COUNT_LINES)
    for name in jittor_fixes.CUDNN_RNN_SOURCES + ("ops/cudnn_conv_op.cc",):
        touch(folder / "extern" / "cuda" / "cudnn" / name, "// " + name)
    return folder


def test_toolkit_behind_a_wrapper_script(tmp_path):
    root, wrapper, _ = fake_toolkit(tmp_path)
    assert cuda13.toolkit.cuda_toolkit(str(wrapper)) == (str(root), (13, 0))


def test_cuda13_with_pip_libraries_gets_a_prepared_root_and_fixed_sources(tmp_path, monkeypatch):
    root, wrapper, site = fake_toolkit(tmp_path)
    monkeypatch.setenv("STYLEGAN_CUDA_LIBS", str(site))
    jittor = fake_jittor(tmp_path)
    nvcc, summary = cuda13.prepare_cuda(str(wrapper), str(jittor), str(tmp_path / "cache"))
    prepared = os.path.dirname(os.path.dirname(nvcc))
    assert prepared.startswith(str(tmp_path / "cache")) and "cuDNN 9" in summary
    assert "helper_cuda.h" in summary and "RNN" in summary
    # nvcc is a script (Jittor resolves links) that runs the real one
    assert not os.path.islink(nvcc)
    said = subprocess.run([nvcc, "--version"], capture_output=True, text=True).stdout
    assert "release 13.0" in said
    # the prepared folder leads back to the toolkit, so a child process prepares nothing new
    assert cuda13.toolkit.cuda_toolkit(nvcc) == (str(root), (13, 0))
    lib64 = os.path.join(prepared, "lib64")
    assert os.path.realpath(f"{lib64}/libcublas.so").endswith("cu13/lib/libcublas.so.13")
    assert os.path.realpath(f"{lib64}/libcudnn_cnn_train.so").endswith("libcudnn_cnn.so.9")
    assert os.path.realpath(f"{lib64}/libcudnn_ops_infer.so").endswith("libcudnn_ops.so.9")
    assert os.path.realpath(f"{lib64}/libcudart.so").endswith("lib64/libcudart.so.13")
    include = os.path.join(prepared, "include")
    for header in ("cuda_runtime.h", "cublas.h", "cudnn.h", "nv/target"):
        assert os.path.exists(os.path.join(include, header)), header
    with open(os.path.join(include, "npp.h")) as npp:
        assert npp.read().count("#define NPP_") == 8
    helper = jittor / "extern" / "cuda" / "inc" / "helper_cuda.h"
    assert "deviceProp.computeMode" not in helper.read_text()
    assert "deviceProp.clockRate" not in helper.read_text()
    assert "cudaComputeModeDefault == cudaComputeModeProhibited" in helper.read_text()
    device_count = (jittor / "src" / "misc" / "cuda_flags.cc").read_text()
    assert "if (cudaGetDeviceCount(&count) != cudaSuccess) count = 0;" in device_count
    cudnn = jittor / "extern" / "cuda" / "cudnn"
    assert not (cudnn / "ops" / "cudnn_rnn_op.cc").exists()
    assert (cudnn / "ops" / "cudnn_conv_op.cc").exists()
    assert (jittor / "extern" / "cuda" / "cudnn_rnn_set_aside" / "ops" / "cudnn_rnn_op.cc").exists()
    # a second start reuses the folder and changes no source
    again, summary_again = cuda13.prepare_cuda(str(wrapper), str(jittor), str(tmp_path / "cache"))
    assert again == nvcc and "fixed" not in summary_again
    assert len(os.listdir(tmp_path / "cache")) == 1


def test_cuda12_with_cudnn8_leaves_jittor_sources_alone(tmp_path, monkeypatch):
    _, wrapper, site = fake_toolkit(tmp_path, release="12.4", cudnn_major=8)
    monkeypatch.setenv("STYLEGAN_CUDA_LIBS", str(site))
    jittor = fake_jittor(tmp_path)
    nvcc, summary = cuda13.prepare_cuda(str(wrapper), str(jittor), str(tmp_path / "cache"))
    assert (jittor / "extern" / "cuda" / "inc" / "helper_cuda.h").read_text() == HELPER_LINES
    assert (jittor / "src" / "misc" / "cuda_flags.cc").read_text() == DEVICE_COUNT_LINES
    assert (jittor / "extern" / "cuda" / "cudnn" / "ops" / "cudnn_rnn_op.cc").exists()
    assert "fixed" not in summary and "CUDA 12.4" in summary


def test_missing_libraries_are_named_with_the_wheels_to_install(tmp_path, monkeypatch):
    root, wrapper, site = fake_toolkit(tmp_path, with_libraries=False)
    monkeypatch.setenv("STYLEGAN_CUDA_LIBS", str(site))
    monkeypatch.setattr(runtime.sys, "path", [])
    with pytest.raises(cuda13.CudaUnavailable) as error:
        cuda13.prepare_cuda(str(wrapper), str(fake_jittor(tmp_path)), str(tmp_path / "cache"))
    message = str(error.value)
    assert str(root) in message and "cublas, cudnn, curand, cufft, cusparse" in message
    assert "nvidia-cudnn-cu13" in message and "STYLEGAN_CUDA_LIBS" in message


def test_read_only_jittor_is_a_reason_not_a_crash(tmp_path, monkeypatch):
    _, wrapper, site = fake_toolkit(tmp_path)
    monkeypatch.setenv("STYLEGAN_CUDA_LIBS", str(site))
    jittor = fake_jittor(tmp_path)
    monkeypatch.setattr(runtime.os, "replace", lambda *a: (_ for _ in ()).throw(
        PermissionError(13, "Permission denied")))
    with pytest.raises(cuda13.CudaUnavailable, match="cannot fix Jittor's CUDA sources in .*"
                       "Permission denied.*--device cpu"):
        cuda13.prepare_cuda(str(wrapper), str(jittor), str(tmp_path / "cache"))


def test_cuda_stays_off_without_a_driver_and_on_device_cpu(monkeypatch):
    monkeypatch.delenv("STYLEGAN_DEVICE", raising=False)  # conftest's choice for child scripts
    monkeypatch.setattr(runtime.sys, "argv", ["train.py", "data"])
    monkeypatch.setenv("nvcc_path", "/somewhere/nvcc")
    monkeypatch.setattr(cuda13, "cuda_device_count", lambda: 0)
    assert runtime._choose_cuda() == (None, "no NVIDIA driver or GPU found (libcuda.so.1 "
                                            "reports none)")
    assert os.environ["nvcc_path"] == ""
    monkeypatch.setattr(cuda13, "cuda_device_count", lambda: 1)
    monkeypatch.setattr(runtime.sys, "argv", ["train.py", "data", "--device", "cpu"])
    assert runtime._choose_cuda() == (None, "--device cpu was given")
    monkeypatch.setattr(runtime.sys, "argv", ["train.py", "data"])
    monkeypatch.setattr(cuda13, "find_nvcc", lambda: None)
    assert "no CUDA toolkit" in runtime._choose_cuda()[1]


def test_a_cpu_child_of_a_cuda_process_builds_outside_the_cuda_cache(monkeypatch):
    """Seen on a GPU: a CPU start that inherited the CUDA cache folder's name built its CPU
    core there, and the next CUDA start loaded it and failed."""
    monkeypatch.setenv("cache_name", runtime.CUDA_CACHE_NAME)
    monkeypatch.setattr(runtime.sys, "argv", ["train.py", "data", "--device", "cpu"])
    assert runtime._choose_cuda()[0] is None
    assert "cache_name" not in os.environ
    monkeypatch.setenv("cache_name", "mine")  # a user's own choice stays
    runtime._choose_cuda()
    assert os.environ["cache_name"] == "mine"


def test_device_cuda_without_cuda_is_one_line_naming_the_reason(tmp_path):
    # no toolkit, so that the answer is the same on a GPU machine
    result = subprocess.run([sys.executable, "generate.py", str(tmp_path / "none.model"),
                             "--device", "cuda"], cwd=ROOT, capture_output=True, text=True,
                            env=dict(os.environ, nvcc_path=""))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --device cuda: CUDA cannot be used "
                                                   "here: ") and "--device cpu" in lines[0]


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="no CUDA toolkit on this machine")
def test_prepared_root_compiles_with_the_real_nvcc(tmp_path, monkeypatch):
    """The real toolkit, stand-in libraries: nvcc run through the prepared folder finds the
    toolkit's headers, the moved nv/ folder and the npp.h stand-in Jittor's kernels include."""
    _, _, site = fake_toolkit(tmp_path)
    monkeypatch.setenv("STYLEGAN_CUDA_LIBS", str(site))
    nvcc, _ = cuda13.prepare_cuda(shutil.which("nvcc"), str(fake_jittor(tmp_path)),
                                   str(tmp_path / "cache"))
    prepared = os.path.dirname(os.path.dirname(nvcc))
    source = tmp_path / "limits.cu"
    source.write_text("#include <npp.h>\n#include <cuda_runtime.h>\n"
                      "__global__ void k(int *x) { *x = NPP_MAX_32S; }\n")
    result = subprocess.run([nvcc, "-c", str(source), "-o", str(tmp_path / "limits.o"),
                             f"-I{prepared}/include"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "limits.o").stat().st_size > 0


def test_training_and_generation_use_no_op_that_needs_cub(demo_data, tmp_path, monkeypatch):
    """With CUDA 13's CCCL, Jittor's ops built on CUB do not compile (C++17 needed): softmax,
    depthwise convolution, sorts, arg-max/min, where, cumsum. On the CPU they would run, so
    they are made to fail here: a run through every phase kind (fade included), R1, mixing,
    EMA and sample grids, then generate.py, must never reach them."""
    import generate
    import train
    from runtime import jt

    def refuse(name):
        def refused(*args, **kwargs):
            raise AssertionError(f"{name} needs CUB on CUDA 13")
        return refused

    for name in ("argsort", "argmax", "argmin", "where", "cumsum", "sort", "unique", "nonzero"):
        if hasattr(jt, name):
            monkeypatch.setattr(jt, name, refuse(f"jt.{name}"))
        if hasattr(jt.Var, name):
            monkeypatch.setattr(jt.Var, name, refuse(f"Var.{name}"))
    monkeypatch.setattr(jt.nn, "softmax", refuse("jt.nn.softmax"))
    monkeypatch.setattr(jt.nn, "DepthwiseConv", refuse("DepthwiseConv"), raising=False)
    convolution = jt.nn.Conv.__init__

    def no_depthwise(self, in_channels, out_channels, *args, **kwargs):
        groups = kwargs.get("groups", args[5] if len(args) > 5 else 1)
        assert not (groups > 1 and groups == in_channels == out_channels), "depthwise conv"
        convolution(self, in_channels, out_channels, *args, **kwargs)

    monkeypatch.setattr(jt.nn.Conv, "__init__", no_depthwise)
    out = tmp_path / "run"
    train.main([demo_data, "--init_size", "8", "--max_size", "16", "--phase", "16", "--iters",
                "12", "--mixing", "--sample_every", "12", "--width", "16", "--code_dim", "16",
                "--n_mlp", "2", "--batch", "4", "--workers", "0", "--device", "cpu",
                "--checkpoint_dir", str(out / "checkpoint"), "--sample_dir", str(out / "sample")])
    generate.main([str(out / "checkpoint" / "last.model"), "--out", str(tmp_path / "generated"),
                   "--n_row", "1", "--n_col", "2", "--n_mixing", "1", "--device", "cpu"])
    assert os.listdir(tmp_path / "generated")
