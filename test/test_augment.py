"""--augment: each operation is identity at strength 0, differentiable in the images (against
finite differences), repeatable from the seed, keeps grey images grey, and a resumed run with
it stays bit-identical."""
import numpy as np
import pytest

import train
from conftest import randn
from runtime import jt
from training import augment


def drawn(function, x, seed=3, strength=1.0):
    np.random.seed(seed)
    return function(x, strength)


@pytest.mark.parametrize("name", augment.OPERATIONS)
def test_identity_at_strength_zero_and_repeatable(name):
    function = augment.FUNCTIONS[name]
    x = randn(4, 3, 8, 8, seed=1)
    assert np.array_equal(drawn(function, x, strength=0.0).numpy(), x.numpy())
    once, again = drawn(function, x).numpy(), drawn(function, x).numpy()
    assert np.array_equal(once, again)
    assert np.abs(once - x.numpy()).max() > 0.1  # at strength 1 it does change the images
    assert not np.array_equal(drawn(function, x, seed=4).numpy(), once)


@pytest.mark.parametrize("name", augment.OPERATIONS)
def test_gradient_matches_finite_differences(name):
    function = augment.FUNCTIONS[name]
    x = randn(2, 3, 8, 8, seed=2)
    weights = np.random.RandomState(5).randn(2, 3, 8, 8)

    def loss(values):  # float64, the same draws every time
        out = drawn(function, jt.array(values.astype(np.float32))).numpy().astype(np.float64)
        return float((out ** 2 * weights).sum())

    grad = jt.grad((drawn(function, x) ** 2 * jt.array(weights.astype(np.float32))).sum(),
                   x).numpy()
    base = x.numpy().astype(np.float64)
    rng = np.random.RandomState(7)
    for _ in range(12):
        index = tuple(rng.randint(size) for size in base.shape)
        step = np.zeros_like(base)
        step[index] = 1e-2
        numeric = (loss(base + step) - loss(base - step)) / 2e-2
        assert abs(grad[index] - numeric) < 2e-2 * max(1.0, abs(numeric)), (index, grad[index],
                                                                            numeric)


def test_second_order_through_the_augmentation():
    """R1 differentiates D's input gradient: through translation's reindex too."""
    x = randn(2, 3, 8, 8, seed=2)
    w = randn(2, 3, 8, 8, seed=4)

    def penalty_gradient():
        inputs = x.clone()
        out = drawn(lambda v, s: augment.augment(v, augment.OPERATIONS, s), inputs)
        score = (out * out * w).sum()
        first = jt.grad(score, inputs)
        return jt.grad((first * first).sum(), w).numpy()

    a, b = penalty_gradient(), penalty_gradient()
    assert np.array_equal(a, b) and np.abs(a).max() > 0


def test_grey_stays_grey():
    grey = randn(4, 1, 8, 8, seed=6)
    x = jt.concat([grey, grey, grey], 1)
    np.random.seed(0)
    out = augment.augment(x).numpy()
    assert np.abs(out - x.numpy()).max() > 0.1
    assert np.abs(out[:, 0] - out[:, 1]).max() < 1e-6 and np.abs(out[:, 1] - out[:, 2]).max() < 1e-6


def test_policy_names_are_checked():
    assert augment.parse_policy("color, cutout") == ("color", "cutout")
    assert augment.parse_policy("ada") == augment.ADA and augment.is_adaptive(" ada")
    with pytest.raises(ValueError, match="--augment colour: choose ada, or from color,translation"):
        augment.parse_policy("colour")


def test_a_resumed_run_with_augmentation_is_bit_identical(demo_data, tmp_path):
    common = [demo_data, "--init_size", "8", "--max_size", "8", "--width", "16", "--code_dim",
              "16", "--n_mlp", "2", "--batch", "4", "--workers", "0", "--sample_every", "100",
              "--loss", "r1"]

    def run(folder, *extra):
        return train.main(common + ["--checkpoint_dir", str(tmp_path / folder / "checkpoint"),
                                    "--sample_dir", str(tmp_path / folder / "sample"), *extra])

    straight = run("straight", "--iters", "8", "--save_every", "100", "--augment")
    run("halves", "--iters", "4", "--save_every", "4", "--augment")
    resumed = run("halves", "--iters", "8", "--save_every", "100", "--ckpt",
                  str(tmp_path / "halves" / "checkpoint" / "last.model"))
    plain = run("plain", "--iters", "8", "--save_every", "100")
    for module in ("generator", "discriminator", "g_running"):
        for a, b, c in zip(*(getattr(r, module).state_dict().values()
                             for r in (straight, resumed, plain))):
            assert np.array_equal(a.numpy(), b.numpy())
    assert resumed.args.augment == "color,translation,cutout"  # kept by the checkpoint
    assert not all(np.array_equal(a.numpy(), c.numpy()) for a, c in zip(
        straight.discriminator.state_dict().values(), plain.discriminator.state_dict().values()))


@pytest.mark.parametrize("name", augment.OPERATIONS)
def test_identity_at_probability_zero(name):
    x = randn(4, 3, 8, 8, seed=1)
    np.random.seed(0)
    assert augment.FUNCTIONS[name](x, 1.0, 0.0) is x
    assert augment.augment(x, augment.ADA, 1.0, 0.0) is x


def test_probability_chooses_images_and_quarter_turns_and_mirrors_are_exact():
    x = randn(64, 1, 8, 8, seed=2)
    values = x.numpy()
    np.random.seed(1)
    out = augment.FUNCTIONS["rotate90"](x, 1.0, 0.5).numpy()
    turned = [next((k for k in range(4) if np.array_equal(o, np.rot90(v, k, axes=(1, 2)))), None)
              for o, v in zip(out, values)]
    assert None not in turned  # every image an exact quarter turn of itself
    assert 20 <= turned.count(0) <= 48  # half not chosen, a quarter of the rest not turned
    np.random.seed(1)
    mirrored = augment.FUNCTIONS["flip"](x, 1.0, 1.0).numpy()
    flipped = [np.array_equal(o, v[:, :, ::-1]) for o, v in zip(mirrored, values)]
    kept = [np.array_equal(o, v) for o, v in zip(mirrored, values)]
    assert all(f or k for f, k in zip(flipped, kept)) and 16 <= sum(flipped) <= 48


def test_scale_and_rotation_resample_bilinearly_with_reflection():
    """A half turn about the centre is exact; a scaling keeps a constant image constant."""
    x = randn(2, 3, 8, 8, seed=3)
    half_turn = augment.resample(x, [augment.rotation(np.pi)] * 2).numpy()
    np.testing.assert_array_equal(half_turn, x.numpy()[:, :, ::-1, ::-1])
    constant = jt.ones((2, 3, 8, 8)) * 0.5
    scaled = augment.resample(constant, [np.eye(2) / 1.3, np.eye(2) * 1.7]).numpy()
    np.testing.assert_allclose(scaled, 0.5, rtol=1e-6)
    assert augment.reflected(np.array([-2, -1, 0, 7, 8, 9]), 8).tolist() == [2, 1, 0, 7, 6, 5]
