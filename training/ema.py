"""The averages training keeps beside the weights: the EMA generator and the tracked w."""
from runtime import jt
from training.options import EMA_DECAY

W_AVG_BETA = 0.995


def ema_decay(args, batch_size):
    """The EMA's decay per iteration: --ema_decay, or from the half-life --ema_kimg (the
    official G_smoothing_kimg: 0.5 ** (batch / (1000 * kimg)))."""
    kimg = getattr(args, "ema_kimg", None)
    if kimg is None:
        return args.ema_decay
    return 0.5 ** (batch_size / (1000.0 * kimg))


def update_ema(pairs, decay=EMA_DECAY):
    """EMA of the generator's weights; buffers such as w_avg are copied; parameters set
    aside by train_only_blocks_in_use (which do not change) are skipped. The average reads
    the parameter itself, not a detached copy (one operator fewer each, same values): it
    runs at once below, so nothing differentiates through it. It must not be computed
    under no_grad, whose stop-grad result would turn the EMA parameter into a buffer."""
    updated = []
    for ema_var, var in pairs:
        if ema_var.is_stop_grad():
            ema_var.update(var.detach())
        elif not var.is_stop_grad():
            ema_var.update(decay * ema_var + (1 - decay) * var)
        else:
            continue
        updated.append(ema_var)
    # run now, so the lazy graph of the average does not grow across iterations
    jt.sync(updated)


def track_w_avg(generator, z, labels=None):
    """The w average over the latents (conditional: and classes) G trains on: one average
    for all classes, as the official dlatent_avg."""
    with jt.no_grad():
        w_mean = generator.mapping(z, labels).mean(0)
        if jt.in_mpi:
            w_mean = w_mean.mpi_all_reduce("mean")
        generator.update_w_avg(w_mean, W_AVG_BETA)
