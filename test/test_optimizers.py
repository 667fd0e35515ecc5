"""Adam with a step count per parameter (PyTorch's, rosinality's) against the formula in NumPy
and against Jittor's Adam; the EMA in fewer operators against the detached average; a resumed
optimizer repeats the uninterrupted one bit for bit."""
import numpy as np
import pytest

from conftest import NARROW, randn
from runtime import jt
from model import StyledGenerator
from training import optimizers, steps
from training.ema import ema_decay, update_ema
from training.options import default_training_args
from training.randomness import seed_everything
from training.schedule import Plan
from training.state import TrainingState
from training.steps import training_step


def losses(weights, target, step):
    return ((weights[0] - target) ** 2).sum() * (step + 1) + (weights[1] ** 3).sum()


def adam_run(optimizer_class, betas, steps=4, late=0, weight_decay=None):
    """Two weights in two groups and a frozen one; the second weight joins at step `late`."""
    weights = [randn(3, 4, seed=1), randn(5, seed=2)]
    frozen = randn(2, seed=3).stop_grad()
    extra = {} if weight_decay is None else {"weight_decay": weight_decay}
    optimizer = optimizer_class([{"params": weights[:1], "lr": 0.01},
                                 {"params": weights[1:] + [frozen], "lr": 0.001}],
                                lr=0.01, betas=betas, **extra)
    target = randn(3, 4, seed=4)
    for step in range(steps):
        if step < late:
            weights[1].stop_grad()
        else:
            weights[1].start_grad()
        optimizer.step(losses(weights, target, step))
    return [w.numpy() for w in weights + [frozen]], optimizer


def numpy_adam(betas, steps=4, late=0):
    """Adam's formula in float64 with each parameter's own step count t (its bias
    corrections 1 - beta^t), as PyTorch's Adam."""
    weights = [randn(3, 4, seed=1).numpy().astype(np.float64),
               randn(5, seed=2).numpy().astype(np.float64)]
    target = randn(3, 4, seed=4).numpy().astype(np.float64)
    lrs, moments, counts = (0.01, 0.001), [[0, 0], [0, 0]], [0, 0]
    for step in range(steps):
        grads = [2 * (weights[0] - target) * (step + 1), 3 * weights[1] ** 2]
        for k in (0, 1):
            if k == 1 and step < late:
                continue
            counts[k] += 1
            m, v = moments[k]
            m = betas[0] * m + (1 - betas[0]) * grads[k]
            v = betas[1] * v + (1 - betas[1]) * grads[k] ** 2
            moments[k] = [m, v]
            m_hat, v_hat = m / (1 - betas[0] ** counts[k]), v / (1 - betas[1] ** counts[k])
            weights[k] = weights[k] - lrs[k] * m_hat / np.sqrt(v_hat)
    return weights


@pytest.mark.parametrize("betas", [(0.0, 0.99), (0.9, 0.99)])
@pytest.mark.parametrize("late", [0, 3])
def test_each_parameter_counts_its_own_steps(betas, late):
    """A parameter that joins at step 3 takes its first step with the first step's bias
    correction: against the formula, not against an optimizer-wide count."""
    ours, optimizer = adam_run(optimizers.PerParameterAdam, betas, steps=6, late=late)
    expected = numpy_adam(betas, steps=6, late=late)
    for mine, reference in zip(ours, expected):
        # eps (1e-8 on sqrt(v), Jittor's and PyTorch's placement) is negligible here
        np.testing.assert_allclose(mine, reference, rtol=2e-5, atol=1e-7)
    np.testing.assert_array_equal(ours[2], randn(2, seed=3).numpy())  # frozen stays
    assert [group["steps"] for group in optimizer.param_groups] == [[6], [6 - late, 0]]


def test_a_late_parameters_first_step_is_the_learning_rate_not_ten_times_it():
    """Jittor's Adam corrects a late parameter's v = g^2/100 by 1 - 0.99^n: about 10 lr."""
    first, _ = adam_run(optimizers.PerParameterAdam, (0.0, 0.99), steps=51, late=50)
    before, _ = adam_run(optimizers.PerParameterAdam, (0.0, 0.99), steps=50, late=50)
    theirs, _ = adam_run(jt.optim.Adam, (0.0, 0.99), steps=51, late=50)
    ours_step = np.abs(first[1] - before[1])
    np.testing.assert_allclose(ours_step, 0.001, rtol=1e-4)
    np.testing.assert_allclose(np.abs(theirs[1] - before[1]),
                               0.001 * np.sqrt(1 - 0.99 ** 51) / np.sqrt(0.01), rtol=1e-4)


@pytest.mark.parametrize("betas", [(0.0, 0.99), (0.9, 0.99)])
def test_with_every_parameter_training_it_is_jittors_adam(betas):
    """Same counts, same formula: equal to rounding (the two graphs round differently on
    some CPUs, by an ulp), not bit for bit."""
    ours, optimizer = adam_run(optimizers.PerParameterAdam, betas)
    theirs, reference = adam_run(jt.optim.Adam, betas, weight_decay=0.0)
    for mine, expected in zip(ours, theirs):
        np.testing.assert_allclose(mine, expected, rtol=1e-6, atol=1e-7)
    assert optimizer.n_step == reference.n_step == 4
    assert np.abs(ours[0] - randn(3, 4, seed=1).numpy()).min() > 0  # it learned


def test_a_restored_optimizer_repeats_the_uninterrupted_one_bit_for_bit():
    _, whole = adam_run(optimizers.PerParameterAdam, (0.0, 0.99), steps=6, late=2)
    weights = [randn(3, 4, seed=1), randn(5, seed=2)]
    frozen = randn(2, seed=3).stop_grad()
    target = randn(3, 4, seed=4)

    def optimizer_for(params):
        return optimizers.PerParameterAdam([{"params": params[:1], "lr": 0.01},
                                            {"params": params[1:], "lr": 0.001}],
                                           lr=0.01, betas=(0.0, 0.99))
    first = optimizer_for(weights + [frozen])
    for step in range(6):
        if step == 3:  # save, then continue in a new optimizer from the saved arrays
            saved = optimizers.optimizer_state(first)
            saved = {"n_step": saved["n_step"], "groups": [
                {**g, "m": [v.numpy() for v in g["m"]], "values": [v.numpy() for v in g["values"]]}
                for g in saved["groups"]]}
            weights = [jt.array(w.numpy()) for w in weights]
            first = optimizer_for(weights + [frozen])
            optimizers.load_optimizer_state(first, saved, "saved")
        (weights[1].stop_grad if step < 2 else weights[1].start_grad)()
        first.step(losses(weights, target, step))
    expected, _ = adam_run(optimizers.PerParameterAdam, (0.0, 0.99), steps=6, late=2)
    for mine, reference in zip([w.numpy() for w in weights], expected):
        np.testing.assert_array_equal(mine, reference)
    assert [g["steps"] for g in first.param_groups] == [[6], [4, 0]]


def test_files_from_before_the_per_parameter_count_load():
    """Such files hold the optimizer's count only: a parameter whose v is all zero has taken
    no step; any other gets that count."""
    _, optimizer = adam_run(optimizers.PerParameterAdam, (0.0, 0.99), steps=5, late=9)
    saved = optimizers.optimizer_state(optimizer)
    old = {"n_step": 5, "groups": [{"lr": g["lr"], "m": [v.numpy() for v in g["m"]],
                                    "values": [v.numpy() for v in g["values"]]}
                                   for g in saved["groups"]]}
    fresh = optimizers.PerParameterAdam([{"params": [randn(3, 4)]},
                                         {"params": [randn(5), randn(2)]}], lr=0.01)
    optimizers.load_optimizer_state(fresh, old, "old.model")
    assert [g["steps"] for g in fresh.param_groups] == [[5], [0, 0]] and fresh.n_step == 5


def test_reset_forgets_moments_and_counts():
    _, optimizer = adam_run(optimizers.PerParameterAdam, (0.0, 0.99), steps=3)
    optimizer.reset()
    assert [g["steps"] for g in optimizer.param_groups] == [[0], [0, 0]]
    assert all(not v.numpy().any() for g in optimizer.param_groups
               for v in g["values"] + g["m"])


def test_a_new_blocks_first_training_update_is_about_the_learning_rate():
    """In training: the 16 px block and its to_rgb join at the fade-in after 8 px steps;
    their first Adam step moves each weight by lr (|g| >> eps), not by about 10 lr."""
    state = TrainingState(default_training_args(**NARROW, batch=4, precision="float32"))
    real8, real16 = randn(4, 3, 8, 8, seed=5).stop_grad(), randn(4, 3, 16, 16, seed=6).stop_grad()
    lr = 0.002
    optimizers.set_learning_rate(state.g_optimizer, lr)
    for _ in range(5):
        training_step(state, real8, Plan(1, 1.0, 4, lr))
    new = [state.generator.generator.to_rgb[2].conv.weight_orig,
           state.generator.generator.progression[2].conv2.conv.weight_orig]
    before = [w.numpy() for w in new]
    training_step(state, real16, Plan(2, 0.5, 4, lr))
    for old, weight in zip(before, new):
        moved = np.abs(weight.numpy() - old)
        assert moved.max() <= lr * 1.0001
        assert np.median(moved) > 0.9 * lr


def test_ema_matches_the_detached_average_and_stays_a_parameter():
    generator, ema = StyledGenerator(**NARROW), StyledGenerator(**NARROW)
    pairs = list(zip(ema.parameters(), generator.parameters()))
    reference = [e.numpy().astype(np.float32) for e, _ in pairs]
    for round_ in range(2):
        for _, var in pairs:
            if not var.is_stop_grad():
                var.update(var + 0.5 * (round_ + 1))
        values = [v.numpy() for _, v in pairs]
        for index, ((ema_var, var), value) in enumerate(zip(pairs, values)):
            if ema_var.is_stop_grad():
                reference[index] = value
            else:  # the old formula, with Jittor's float32 arithmetic
                reference[index] = (jt.array(reference[index]) * 0.9
                                    + (1 - 0.9) * jt.array(value)).numpy()
        update_ema(pairs, 0.9)
    assert sum(not e.is_stop_grad() for e, _ in pairs) > 10  # parameters stay parameters
    for (ema_var, _), expected in zip(pairs, reference):
        np.testing.assert_array_equal(ema_var.numpy(), expected)


def detached_ema(pairs, decay):
    """The EMA as it was: each parameter detached (copied) first."""
    updated = []
    for ema_var, var in pairs:
        if ema_var.is_stop_grad():
            ema_var.update(var.detach())
        elif not var.is_stop_grad():
            ema_var.update(decay * ema_var + (1 - decay) * var.detach())
        else:
            continue
        updated.append(ema_var)
    jt.sync(updated)


def test_training_steps_match_jittors_adam_and_the_detached_ema(monkeypatch):
    """Whole steps agree within float32 rounding: the EMA's sync also runs G's pending Adam
    update, and the two graphs fuse those operators into different kernels (seen: one unit in
    the last place on a few elements); each path repeats itself exactly."""
    def two_steps():
        seed_everything(0)
        state = TrainingState(default_training_args(**NARROW, batch=4, precision="float32"))
        real = randn(4, 3, 8, 8, seed=5).stop_grad()
        for alpha in (0.5, 0.25):  # every block in use from the first step: same counts
            seed_everything(1)
            training_step(state, real, Plan(1, alpha, 4, 0.002))
        return [p.numpy() for p in state.generator.parameters() + state.g_running.parameters()
                + state.discriminator.parameters()]

    ours, again = two_steps(), two_steps()
    monkeypatch.setattr(optimizers, "PerParameterAdam", jt.optim.Adam)
    monkeypatch.setattr(steps, "update_ema", detached_ema)
    theirs = two_steps()
    assert len(ours) == len(theirs) > 50
    for mine, repeated, reference in zip(ours, again, theirs):
        np.testing.assert_array_equal(mine, repeated)
        np.testing.assert_allclose(mine, reference, rtol=1e-6, atol=1e-7)
    changed = sum(not np.array_equal(a, b) for a, b in zip(ours, theirs))
    assert changed < len(ours) // 2, changed
