"""Run under mpirun by test_train: trains, then each rank dumps its weights for comparison."""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import train  # noqa: E402
import training.distributed  # noqa: E402

out_dir, argv = sys.argv[1], sys.argv[2:]
os.makedirs(out_dir, exist_ok=True)
with open(os.path.join(out_dir, f"pid{train.jt.rank}"), "w") as pid_file:  # for signals
    pid_file.write(str(os.getpid()))
state = train.main(argv)
arrays = {f"{name}.{key}": value.numpy()
          for name in ("generator", "discriminator", "g_running")
          for key, value in getattr(state, name).state_dict().items()}
# a loss that diverged on rank 1 only must stop every rank, not leave one waiting
one_rank_nan = train.jt.array([float("nan") if train.jt.rank == 1 else 1.0])
arrays["sees_nan"] = np.array(np.isnan(training.distributed.fetch_losses({"d_loss": one_rank_nan})["d_loss"]))
np.savez(os.path.join(out_dir, f"rank{train.jt.rank}.npz"), **arrays)
