"""GAN losses: D's loss (with its gradient penalty) and G's loss for each --loss choice.

Penalties differentiate D with respect to its input (jt.grad with the graph kept), so
their gradient reaches D's weights through second-order terms. Batches from a Dataset
are stop_grad: the input is given start_grad() here, or the penalty is silently zero.
"""
from runtime import jt
from training.distributed import rank_share
from training.options import LOSSES
from jittor import nn


def input_gradient_norms_sq(discriminator, images, step, alpha):
    """D(images) and the squared L2 norm of dD/dimage for each sample."""
    images = images.detach().start_grad()
    scores = discriminator(images, step=step, alpha=alpha)
    grad = jt.grad(scores.sum(), images, retain_graph=True)
    return scores, grad.reshape(grad.shape[0], -1).sqr().sum(1)


def interpolate(real, fake):
    epsilon = rank_share(jt.rand(real.shape[0] * jt.world_size, 1, 1, 1))
    return (epsilon * real + (1 - epsilon) * fake.detach())


def discriminator_loss(kind, discriminator, real, fake, step, alpha, r1_gamma=10.0,
                       penalty_scale=1):
    """(total D loss, penalty term) for one batch of real and generated images.

    penalty_scale weighs the gradient penalty in the loss: lazy regularisation (StyleGAN2)
    computes it every k-th minibatch with weight k (penalty_scale=k) and skips it in
    between (penalty_scale=0: no double backward at all; the penalty returned is None).
    The penalty returned is always the per-minibatch term, unscaled, for the log."""
    fake = fake.detach()
    lazy = penalty_scale == 0
    if kind == "r1":
        if lazy:
            real_scores = discriminator(real, step=step, alpha=alpha)
            penalty = None
        else:
            real_scores, norms_sq = input_gradient_norms_sq(discriminator, real, step, alpha)
            penalty = r1_gamma / 2 * norms_sq.mean()
        fake_scores = discriminator(fake, step=step, alpha=alpha)
        adversarial = nn.softplus(-real_scores).mean() + nn.softplus(fake_scores).mean()
        return (adversarial if lazy else adversarial + penalty_scale * penalty), penalty
    real_scores = discriminator(real, step=step, alpha=alpha)
    fake_scores = discriminator(fake, step=step, alpha=alpha)
    if kind == "logistic":
        loss = nn.softplus(-real_scores).mean() + nn.softplus(fake_scores).mean()
        return loss, jt.zeros(1)
    if kind == "hinge":
        loss = nn.relu(1 - real_scores).mean() + nn.relu(1 + fake_scores).mean()
        return loss, jt.zeros(1)
    wasserstein = fake_scores.mean() - real_scores.mean()
    if kind == "wgan-gp":
        # drift term keeps real scores near 0 (Karras et al. 2018)
        loss = wasserstein + 0.001 * (real_scores ** 2).mean()
    elif kind == "wgan-div":
        loss = wasserstein
    else:
        raise ValueError(f"unknown loss {kind!r}; choose from {', '.join(LOSSES)}")
    if lazy:
        return loss, None
    _, norms_sq = input_gradient_norms_sq(discriminator, interpolate(real, fake), step, alpha)
    if kind == "wgan-gp":
        penalty = 10 * ((jt.sqrt(norms_sq + 1e-12) - 1) ** 2).mean()
    else:
        penalty = 2 * (norms_sq ** 3).mean()  # k = 2, p = 6: ||g||^6 = (||g||^2)^3
    return loss + penalty_scale * penalty, penalty


def generator_loss(kind, fake_scores):
    if kind in ("r1", "logistic"):
        return nn.softplus(-fake_scores).mean()  # non-saturating
    return -fake_scores.mean()
