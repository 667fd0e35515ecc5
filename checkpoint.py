"""Checkpoint tools.

    python checkpoint.py convert karras2019stylegan-ffhq-1024x1024.pkl ffhq.model

`convert` writes any checkpoint the project reads (NVIDIA's pickles included) in our format,
once, so later loads skip the conversion.
"""
import argparse

from cli import DescriptionAndDefaults, answer_help_before_jittor, run_cli


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=DescriptionAndDefaults)
    sub = parser.add_subparsers(dest="command", required=True)
    converter = sub.add_parser("convert", help="write a checkpoint of any kind in our format",
                               formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    converter.add_argument("source", help="ours, StyleGAN-jittor's, rosinality's or NVIDIA's .pkl")
    converter.add_argument("target", help="the .model file to write")
    return parser.parse_args(argv)


answer_help_before_jittor(__name__, parse_args)
# the import below starts Jittor
from formats.checkpoints import read_checkpoint, save_checkpoint


def convert(source, target):
    checkpoint = read_checkpoint(source)
    save_checkpoint(checkpoint, target)
    return checkpoint


def main(argv=None):
    args = parse_args(argv)
    checkpoint = convert(args.source, args.target)
    size = (checkpoint.get("meta") or {}).get("size")
    print(f"wrote {args.target}" + (f" ({size} px)" if size else ""))


if __name__ == "__main__":
    run_cli(main)
