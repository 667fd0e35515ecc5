"""Training only the blocks a step runs: the rest are set aside for the step."""
from runtime import jt


def train_only_blocks_in_use(state, plan):
    """Parameters of the blocks this step and alpha do not run (blocks not grown yet, the
    to_rgb/from_rgb layers of earlier sizes) take no Adam step and no EMA update: their
    moments and step counts wait until the block runs. In one process they get stop_grad,
    so no gradient is computed for them at all (the full-size model has 49M parameters; at
    8 px a few million run). --freeze_d's blocks of D are set aside the same way: the
    gradient still flows through them to the layers below and to the images. Under MPI they stay differentiable and are only named in the
    optimizer's `resting`: Jittor's optimizer broadcasts every parameter lazily from rank 0,
    and a parameter no step reads would run its broadcast on one rank alone (ranks hang)."""
    frozen = {id(p) for module in state.discriminator.frozen_modules(
        plan.step, getattr(state.args, "freeze_d", 0)) for p in module.parameters()}
    for model, optimizer in ((state.generator, state.g_optimizer),
                             (state.discriminator, state.d_optimizer)):
        running = {id(p) for module in model.modules_in_use(plan.step, plan.alpha)
                   for p in module.parameters()} - frozen
        optimizer.resting = {id(p) for group in optimizer.param_groups
                             for p in group["params"] if id(p) not in running}
        if jt.in_mpi:
            continue
        for group in optimizer.param_groups:
            for p in group["params"]:
                if id(p) in running:
                    p.start_grad()
                else:
                    p.stop_grad()


def train_all_parameters(state):
    """Undo train_only_blocks_in_use: the models leave train() as they came in."""
    for optimizer in (state.g_optimizer, state.d_optimizer):
        optimizer.resting = set()
        for group in optimizer.param_groups:
            for p in group["params"]:
                p.start_grad()
