"""train.py's options and their defaults, so that code other than train.py (benchmarks,
tests) builds a training state with exactly what train.py would. Imports nothing that starts
Jittor, so that `train.py --help` answers at once."""
import argparse

from cli import add_runtime_args

LOSSES = ("r1", "wgan-gp", "wgan-div", "hinge", "logistic")
EMA_DECAY = 0.999
PRECISION_CHOICES = ("auto", "float32", "bfloat16")  # auto + convolution.PRECISIONS (tested)


def training_parser():
    """train.py's options, with their defaults."""
    parser = argparse.ArgumentParser(description="Progressive-growing StyleGAN training.",
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("path", help="data root: resolution folders (data/8, data/16, ...) or LMDB")
    parser.add_argument("--init_size", type=int, default=8, help="first resolution")
    parser.add_argument("--max_size", type=int,
                        help="last resolution; none given = the largest in PATH")
    parser.add_argument("--phase", type=int, default=600_000,
                        help="samples to fade in a resolution, and as many to stabilise it")
    parser.add_argument("--lr", type=float, default=0.001, help="learning rate")
    parser.add_argument("--batch", type=int, default=32, help="batch size without --sched")
    parser.add_argument("--sched", action="store_true",
                        help="per-resolution learning rates and batch sizes (rosinality's)")
    parser.add_argument("--mixing", dest="mixing", action="store_true", default=True,
                        help="style mixing regularisation, probability 0.9 (on by default)")
    parser.add_argument("--no_mixing", dest="mixing", action="store_false",
                        default=argparse.SUPPRESS,
                        help="no style mixing regularisation (default: mixing on)")
    parser.add_argument("--mixing_crossover", choices=("block", "layer"), default="block",
                        help="where a mixed pair switches from one w to the other: at a "
                             "random block below the current size (rosinality), or at a "
                             "random layer among those in use, also at 4 px (official)")
    parser.add_argument("--loss", choices=LOSSES, default="wgan-gp",
                        help="GAN loss; wgan-gp as rosinality (short runs on small data stay "
                             "diverse), r1 as the official FFHQ training")
    parser.add_argument("--r1_gamma", type=float, default=10.0,
                        help="R1 weight (the official FFHQ value)")
    parser.add_argument("--penalty_every", "--r1_every", type=int, default=1,
                        help="compute the gradient penalty (R1 or WGAN's) every N minibatches, "
                             "N times as strong (lazy regularisation, StyleGAN2); 1 = always")
    parser.add_argument("--ckpt", help="checkpoint to resume from (ours: exact; others: weights)")
    parser.add_argument("--from", dest="from_ckpt", metavar="CKPT",
                        help="start a new run on PATH from this checkpoint's weights (any kind: "
                             "ours, rosinality's, StyleGAN-jittor's, NVIDIA's .pkl): G, D, the "
                             "EMA generator and its w average; a new schedule, stable at the "
                             "file's size, new optimizers; the model's shape from the file")
    parser.add_argument("--freeze_d", type=int, default=0, metavar="N",
                        help="D's N highest-resolution blocks (nearest the image, with their "
                             "from_rgb) do not train (FreezeD; stylegan2-ada's --freezed)")
    parser.add_argument("--cond", action="store_true",
                        help="class-conditional (NVIDIA's label_size): G embeds the label with "
                             "z, D scores each class and takes the label's; the labels come "
                             "from resize.py (a dataset.json or one subfolder per class)")
    parser.add_argument("--no_from_rgb_activate", action="store_true",
                        help="no LeakyReLU after from_rgb (rosinality's default has one)")
    parser.add_argument("--width", type=int, default=512,
                        help="channels at low resolution; 512 = the full-size model")
    parser.add_argument("--code_dim", type=int, default=512, help="size of z and w")
    parser.add_argument("--n_mlp", type=int, default=8, help="mapping network layers")
    parser.add_argument("--stddev_group", type=int, default=0,
                        help="minibatch-stddev group size; 0 = whole batch, 4 = official")
    parser.add_argument("--ema_decay", type=float, default=EMA_DECAY,
                        help="EMA generator decay per iteration (rosinality's value; lower "
                             "it for runs of a few thousand iterations)")
    parser.add_argument("--ema_kimg", type=float,
                        help="instead of --ema_decay: the EMA's half-life in thousands of "
                             "images, whatever the batch (official: 10)")
    parser.add_argument("--fade_reals", action="store_true",
                        help="during a fade-in, blend the real images with their 2x2-averaged "
                             "version by the fakes' alpha (official); rosinality shows D the "
                             "full-detail reals")
    parser.add_argument("--reset_optimizers_on_grow", action="store_true",
                        help="reset Adam's moments and step counts as each fade-in starts and "
                             "ends (official); default: each parameter counts its own steps "
                             "from its first (rosinality, PyTorch's Adam)")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument("--iters", type=int, default=3_000_000, help="iterations to stop at")
    parser.add_argument("--sample_every", type=int, default=100,
                        help="iterations between sample grids (and plots)")
    parser.add_argument("--save_every", type=int, default=10_000,
                        help="iterations between checkpoints")
    parser.add_argument("--log_every", type=int, default=10,
                        help="iterations between log lines")
    parser.add_argument("--augment", nargs="?", const="color,translation,cutout", metavar="POLICY",
                        help="differentiable augmentation of every image D sees, against D "
                             "memorising a small data set: 'ada' = ADA (flip, rotate90, "
                             "translation, scale, rotate, color, cutout, each with a probability "
                             "p tuned from r_t, starting at 0); or operations applied to every "
                             "image (DiffAugment), alone = color,translation,cutout")
    parser.add_argument("--augment_strength", type=float, default=1.0,
                        help="scales each augmentation (0 = none); not with ada")
    parser.add_argument("--ada_target", type=float, default=0.6,
                        help="--augment ada: the r_t that p is tuned to keep (ADA's 0.6)")
    parser.add_argument("--ada_kimg", type=float, default=500,
                        help="--augment ada: thousands of images over which p can move from "
                             "0 to 1 (ADA's 500)")
    parser.add_argument("--fid_every", type=int, default=0,
                        help="iterations between FIDs of the EMA generator against the training "
                             "images, in log.jsonl and the plot; 0 = none (needs "
                             "requirements-metrics.txt)")
    parser.add_argument("--fid_samples", type=int, default=1000,
                        help="generated (and at most as many real) images per FID")
    parser.add_argument("--workers", type=int, default=2, help="data loading processes")
    parser.add_argument("--no_flip", action="store_true", help="no random horizontal flips")
    parser.add_argument("--colour", choices=("auto", "rgb", "grey"), default="auto",
                        help="grey: the generator draws grey images; auto: grey when the data "
                             "is greyscale")
    parser.add_argument("--precision", choices=PRECISION_CHOICES, default="auto",
                        help="of the CPU convolutions' multiplications: bfloat16 (float32 "
                             "sums) runs on AMX, 1.35-2.15x faster per full-width iteration; "
                             "auto = bfloat16 where the CPU has AMX, else float32")
    parser.add_argument("--checkpoint_dir", default="checkpoint", help="where checkpoints go")
    parser.add_argument("--sample_dir", default="sample", help="where sample grids go")
    parser.add_argument("--zoom", type=int, default=0,
                        help="sample grids enlarged N times (nearest neighbour); 0 = the "
                             "least factor that shows each image at 64 px or more")
    add_runtime_args(parser)
    return parser


def default_training_args(**overrides):
    """The namespace `python train.py unused` would give, with some options changed."""
    args = training_parser().parse_args(["unused"])
    for key, value in overrides.items():
        if not hasattr(args, key):
            raise KeyError(f"train.py has no option --{key}")
        setattr(args, key, value)
    return args
