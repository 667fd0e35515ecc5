"""Progressive-growing StyleGAN training, as library code; train.py is its command line.

schedule (a pure function of samples seen), state (everything saved and restored as one
object), steps (one iteration's D and G steps), ema, optimizers (Adam counting each
parameter's steps), losses, augment and adaptive (ADA's p), blocks_in_use (and FreezeD),
randomness and distributed (every draw from (seed, iteration), MPI shares), log and plot
(log.jsonl and sample/plot.png), samples, signals, and loop, which runs them in order.
"""
