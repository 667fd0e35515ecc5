"""Training only the blocks a step runs: the rest are set aside (stop_grad) for the step."""
from runtime import jt


def train_only_blocks_in_use(state, plan):
    """Parameters of the blocks this step and alpha do not run (blocks not grown yet, the
    to_rgb/from_rgb layers of earlier sizes) get stop_grad, so Jittor's optimizers skip them
    (no gradient of zeros, no Adam update: with beta1 = 0 it would not move them anyway) and
    so does the EMA. The full-size model has 49M parameters; at 8 px a few million run.
    Not under MPI: Jittor's optimizer broadcasts every parameter lazily from rank 0, and a
    parameter no step reads would run its broadcast on one rank alone (ranks hang)."""
    if jt.in_mpi:
        return
    for model in (state.generator, state.discriminator):
        running = {id(p) for module in model.modules_in_use(plan.step, plan.alpha)
                   for p in module.parameters()}
        for group in (state.g_optimizer if model is state.generator
                      else state.d_optimizer).param_groups:
            for p in group["params"]:
                if id(p) in running:
                    p.start_grad()
                else:
                    p.stop_grad()


def train_all_parameters(state):
    """Undo train_only_blocks_in_use: the models leave train() as they came in."""
    for optimizer in (state.g_optimizer, state.d_optimizer):
        for group in optimizer.param_groups:
            for p in group["params"]:
                p.start_grad()
