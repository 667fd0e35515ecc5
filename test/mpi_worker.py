"""Run under mpirun by test_train: trains, then each rank dumps its weights for comparison."""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import train  # noqa: E402

out_dir, argv = sys.argv[1], sys.argv[2:]
state = train.main(argv)
arrays = {f"{name}.{key}": value.numpy()
          for name in ("generator", "discriminator", "g_running")
          for key, value in getattr(state, name).state_dict().items()}
np.savez(os.path.join(out_dir, f"rank{train.jt.rank}.npz"), **arrays)
