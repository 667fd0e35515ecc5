"""Build Jittor's CUDA core and library wrappers through this package's preparation, without
a GPU (nothing runs on one), and say what compiled:

    STYLEGAN_CUDA_LIBS=/path/to/site-packages python -m cuda13.compile_check
"""
import os
import subprocess
import sys
import time

_BUILD_REPORT = """
import sys, time
sys.path.insert(0, %r)
started = time.time()
import runtime
from jittor import compile_extern, compiler
print("set-up:", runtime.cuda_setup)
print("Jittor's core built with CUDA:", bool(compiler.has_cuda),
      "(import took %%.0f s)" %% (time.time() - started))
for name in ("cublas", "cudnn", "curand", "cufft", "cusparse", "cub"):
    built = getattr(compile_extern, name + "_ops", None) is not None
    print(f"  {name} wrapper:", "compiled and loaded" if built else "not built")
"""


def main():
    """In a child process that runtime.py tells to prepare CUDA even without a GPU."""
    environment = dict(os.environ, STYLEGAN_CUDA_COMPILE_CHECK="1")
    project = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    started = time.time()
    result = subprocess.run([sys.executable, "-c", _BUILD_REPORT % project], env=environment,
                            capture_output=True, text=True)
    print(result.stdout, end="")
    if result.returncode != 0:
        print(result.stderr[-4000:], end="")
        print(f"the CUDA build failed after {time.time() - started:.0f} s")
        sys.exit(1)


if __name__ == "__main__":
    main()
