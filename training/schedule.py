"""The training schedule: a pure function of the samples seen."""
from dataclasses import dataclass

from model import step_of_size

# rosinality's --sched: learning rate and batch size per resolution
SCHED_LR = {128: 0.0015, 256: 0.002, 512: 0.003, 1024: 0.003}
SCHED_BATCH = {4: 512, 8: 256, 16: 128, 32: 64, 64: 32, 128: 32, 256: 32}


@dataclass(frozen=True)
class Plan:
    """What the schedule prescribes at a given number of samples seen."""
    step: int
    alpha: float
    batch_size: int
    lr: float

    @property
    def resolution(self):
        return 4 * 2**self.step


def training_schedule(used_samples, init_step, max_step, phase, batch=32, lr=0.001, sched=False):
    """Each resolution fades in over `phase` samples, then trains stable for `phase` more.

    The first resolution has nothing to fade from (alpha 1); the last trains on forever.
    """
    step = min(init_step + used_samples // (2 * phase), max_step)
    into_step = used_samples - (step - init_step) * 2 * phase
    alpha = 1.0 if step == init_step else min(1.0, (into_step + 1) / phase)
    resolution = 4 * 2**step
    return Plan(step, alpha,
                SCHED_BATCH.get(resolution, batch) if sched else batch,
                SCHED_LR.get(resolution, lr) if sched else lr)


def plan_for(state):
    args = state.args
    return training_schedule(state.used_samples, step_of_size(args.init_size),
                             step_of_size(args.max_size), args.phase, args.batch, args.lr,
                             args.sched)
