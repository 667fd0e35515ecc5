"""One iteration's learning: the discriminator's step, the generator's, the averages."""
import random

import numpy as np

from convolution import avg_pool2, upsample_nearest
from model import fading
from runtime import jt
from training.augment import AugmentedDiscriminator, is_adaptive, parse_policy
from training.blocks_in_use import train_only_blocks_in_use
from training.distributed import rank_share
from training.ema import ema_decay, track_w_avg, update_ema
from training.losses import discriminator_loss, generator_loss

MIXING_PROBABILITY = 0.9


def generator_inputs(generator, plan, code_dim, mixing):
    """This rank's share of the latents (two with style mixing) and noise maps drawn for
    the global batch."""
    count = 2 if mixing and random.random() < MIXING_PROBABILITY else 1
    latents = [rank_share(jt.randn(plan.batch_size, code_dim)) for _ in range(count)]
    noise = [rank_share(maps) for maps in generator.make_noise(plan.batch_size, plan.step)]
    return (latents if count == 2 else latents[0]), noise


class Conditioned:
    """A conditional D with the labels of the images it is given bound (every loss and
    penalty calls D with images, step and alpha only)."""

    def __init__(self, discriminator, labels):
        self.discriminator, self.labels = discriminator, labels

    def __call__(self, images, step=0, alpha=-1):
        return self.discriminator(images, step=step, alpha=alpha, labels=self.labels)


def fake_labels(state, batch_size):
    """This rank's share of classes for a global batch of fakes, drawn as often as the data
    has them (the official get_random_labels_tf), from the iteration's NumPy stream; None
    for an unconditional model."""
    counts = getattr(state.args, "class_counts", None)
    if not counts:
        return None
    counts = np.asarray(counts, dtype=np.float64)
    labels = np.random.choice(len(counts), size=batch_size, p=counts / counts.sum())
    return jt.array(labels[jt.rank::jt.world_size].astype(np.int32))


def seen_by_discriminator(state, labels=None):
    """D as the losses call it: conditional, with the images' labels; with --augment, every
    image it sees augmented (with ADA, each operation with the probability p that training
    tunes)."""
    discriminator = state.discriminator if labels is None else Conditioned(state.discriminator,
                                                                          labels)
    policy = getattr(state.args, "augment", None)
    if not policy:
        return discriminator
    if is_adaptive(policy):
        return AugmentedDiscriminator(discriminator, parse_policy(policy),
                                      probability=state.augment_p)
    return AugmentedDiscriminator(discriminator, parse_policy(policy),
                                  getattr(state.args, "augment_strength", 1.0))


class FirstScores:
    """D, keeping the scores of its first two calls: every loss scores the real images
    first, then the generated ones."""

    def __init__(self, discriminator):
        self.discriminator, self.scores = discriminator, []

    def __call__(self, images, step=0, alpha=-1):
        scores = self.discriminator(images, step=step, alpha=alpha)
        if len(self.scores) < 2:
            self.scores.append(scores)
        return scores


def real_sign(loss, real_scores, fake_scores):
    """ADA's overfitting heuristic r_t: E[sign(D(real))] where the losses make 0 the line
    between real and fake (r1, logistic, hinge). A Wasserstein critic has no such line (only
    differences of scores count; the drift term pulls real scores to 0, so sign(D(real))
    stays near 0 whatever D has learnt): there r_t is E[sign(D(real) - mean D(fake))], the
    same measure with the fakes' mean as the line: 0 when D cannot tell them apart, 1 when
    it separates every real image from the fakes."""
    real_scores, fake_scores = real_scores.detach(), fake_scores.detach()
    if loss.startswith("wgan"):
        real_scores = real_scores - fake_scores.mean()
    return ((real_scores > 0).float32() - (real_scores < 0).float32()).mean()


def faded_reals(real, plan):
    """--fade_reals (official): during a fade-in the reals carry as much of the new
    resolution's detail as the fakes do, alpha * real + (1 - alpha) * its 2x2 average."""
    if not fading(plan.step, plan.alpha):
        return real
    return plan.alpha * real + (1 - plan.alpha) * upsample_nearest(avg_pool2(real))


def generated(state, plan, latents, noise, labels=None):
    return state.generator(latents, noise=noise, step=plan.step, alpha=plan.alpha,
                           crossover=getattr(state.args, "mixing_crossover", "block"),
                           labels=labels)


def discriminator_step(state, real, plan, labels=None):
    """D's update; returns its loss, the penalty and E[sign(D(real))] (ADA's r_t).
    Conditional: the fakes are drawn for the reals' labels and D scores both for them, as
    the official D losses do."""
    args = state.args
    latents, noise = generator_inputs(state.generator, plan, args.code_dim, args.mixing)
    fake = generated(state, plan, latents, noise, labels)
    if getattr(args, "fade_reals", False):
        real = faded_reals(real, plan)
    every = args.penalty_every
    seen = FirstScores(seen_by_discriminator(state, labels))
    d_loss, penalty = discriminator_loss(args.loss, seen, real, fake,
                                         plan.step, plan.alpha, args.r1_gamma,
                                         penalty_scale=0 if state.iteration % every else every)
    state.d_optimizer.step(d_loss)
    return d_loss, penalty, real_sign(args.loss, *seen.scores)


def generator_step(state, plan):
    """G's update; conditional, for classes drawn as the data has them (both latents of a
    mixed pair share the class, as in the official mapping call)."""
    args = state.args
    latents, noise = generator_inputs(state.generator, plan, args.code_dim, args.mixing)
    labels = fake_labels(state, plan.batch_size)
    fake = generated(state, plan, latents, noise, labels)
    g_loss = generator_loss(args.loss, seen_by_discriminator(state, labels)(
        fake, step=plan.step, alpha=plan.alpha))
    state.g_optimizer.step(g_loss)
    track_w_avg(state.generator, latents[0] if isinstance(latents, list) else latents, labels)
    return g_loss


def training_step(state, real, plan, labels=None):
    """One iteration's learning: D step, G step, EMA, on the blocks this plan runs (labels:
    the real images' classes, conditional models only). Returns D's and G's losses, the
    penalty and r_t, all lazy."""
    train_only_blocks_in_use(state, plan)
    if labels is not None:  # once, not at each of D's calls
        labels = jt.array(np.asarray(labels, dtype=np.int32))
    d_loss, penalty, real_sign = discriminator_step(state, real, plan, labels)
    g_loss = generator_step(state, plan)
    update_ema(state.ema_pairs, ema_decay(state.args, plan.batch_size))
    return d_loss, penalty, g_loss, real_sign
