"""ADA's probability p (Karras et al. 2020): every ADA_INTERVAL iterations, p moves towards
keeping r_t, D's overfitting heuristic, at --ada_target, by as much as lets it cross from 0 to 1
in --ada_kimg thousand images."""
import numpy as np

from training.distributed import fetch_losses

ADA_INTERVAL = 4  # iterations between adjustments, as stylegan2-ada


def adapt_probability(state, real_sign, batch_size):
    """Note this iteration's r_t (averaged over MPI ranks); every ADA_INTERVAL iterations
    move p by sign(mean r_t - target) * images / (ada_kimg * 1000), kept in [0, 1]."""
    args = state.args
    state.ada_signs.append(fetch_losses({"r_t": real_sign})["r_t"])
    if len(state.ada_signs) < ADA_INTERVAL:
        return
    r_t = float(np.mean(state.ada_signs))
    step = np.sign(r_t - args.ada_target) * batch_size * ADA_INTERVAL / (args.ada_kimg * 1000)
    state.augment_p = float(min(max(state.augment_p + step, 0.0), 1.0))
    state.ada_signs = []
