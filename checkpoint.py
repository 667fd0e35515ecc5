"""Checkpoint tools.

    python checkpoint.py convert karras2019stylegan-ffhq-1024x1024.pkl ffhq.model
    python checkpoint.py convert checkpoint/last.model train_step-7.model --to rosinality

`convert` writes any checkpoint the project reads (NVIDIA's pickles included) in our format,
once, so later loads skip the conversion; `--to rosinality` writes what rosinality's train.py
saves (PyTorch's zip layout, weights and Adam states), for its generate.py and train.py --ckpt.
"""
import argparse

from cli import DescriptionAndDefaults, answer_help_before_jittor, run_cli


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=DescriptionAndDefaults)
    sub = parser.add_subparsers(dest="command", required=True)
    converter = sub.add_parser("convert", help="write a checkpoint of any kind in our format",
                               formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    converter.add_argument("source", help="ours, StyleGAN-jittor's, rosinality's or NVIDIA's .pkl")
    converter.add_argument("target", help="the file to write")
    converter.add_argument("--to", choices=("ours", "rosinality"), default="ours",
                           help="ours: our format; rosinality: its train_step file (its one "
                                "model shape: 512 channels, z of 512, 8 mapping layers)")
    return parser.parse_args(argv)


answer_help_before_jittor(__name__, parse_args)
# the import below starts Jittor
from formats.checkpoints import read_checkpoint, save_checkpoint
from formats.pt_writer import write_pt_zip
from formats.rosinality import rosinality_checkpoint


def convert(source, target, to="ours"):
    checkpoint = read_checkpoint(source)
    if to == "rosinality":
        write_pt_zip(rosinality_checkpoint(checkpoint, source), target)
    else:
        save_checkpoint(checkpoint, target)
    return checkpoint


def main(argv=None):
    args = parse_args(argv)
    checkpoint = convert(args.source, args.target, args.to)
    size = (checkpoint.get("meta") or {}).get("size")
    print(f"wrote {args.target}" + (f" ({size} px)" if size else ""))


if __name__ == "__main__":
    run_cli(main)
