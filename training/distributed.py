"""MPI data parallelism: each rank's share of a global batch, and figures averaged over ranks."""
from runtime import jt


def rank_share(batch):
    """This MPI rank's samples of a global batch: every world_size-th one, from its rank.
    Drawing random inputs for the global batch and taking shares makes a run with N ranks
    see the samples and latents of a run with one."""
    return batch[jt.rank::jt.world_size] if jt.world_size > 1 else batch


def fetch_losses(losses):
    """Host values, averaged over MPI ranks: one rank's NaN makes every rank's mean NaN,
    so all ranks stop together instead of some waiting in the next collective."""
    if jt.in_mpi:
        losses = {k: v.mpi_all_reduce("mean") for k, v in losses.items()}
    return {k: v.item() for k, v in losses.items()}
