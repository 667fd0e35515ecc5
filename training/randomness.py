"""Where every random draw comes from: the seed, and for each iteration (seed, iteration)."""
import random

import numpy as np

from runtime import jt


def seed_everything(seed):
    """Seed Python, NumPy and Jittor (each MPI rank gets its own stream)."""
    seed = int(seed) + 2591 * jt.rank
    random.seed(seed)
    np.random.seed(seed % 2**32)
    jt.set_seed(seed)


def seed_iteration(seed, iteration):
    """Every random draw of an iteration (latents, noise, mixing points, penalty mixes)
    comes from (seed, iteration) alone, the same on every MPI rank: a resumed run draws what
    the uninterrupted one drew, and N ranks draw what one would (each takes its share)."""
    derived = int(np.random.SeedSequence([seed, iteration]).generate_state(1)[0])
    random.seed(derived)
    np.random.seed(derived)
    jt.set_seed(derived)
