"""Checkpoint tools.

    python checkpoint.py convert karras2019stylegan-ffhq-1024x1024.pkl ffhq.model
    python checkpoint.py convert checkpoint/last.model train_step-7.model --to rosinality
    python checkpoint.py export checkpoint/last.model generator.onnx --truncation 0.7

`convert` writes any checkpoint the project reads (NVIDIA's pickles included) in our format,
once, so later loads skip the conversion; `--to rosinality` writes what rosinality's train.py
saves (PyTorch's zip layout, weights and Adam states), for its generate.py and train.py --ckpt.
`export` writes the EMA generator at one resolution as an ONNX graph (needs the onnx package:
pip install --no-deps -r requirements-export.txt).
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
    exporter = sub.add_parser("export", help="the EMA generator as an ONNX graph",
                              formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    exporter.add_argument("ckpt", help="any checkpoint the project reads")
    exporter.add_argument("target", help="the .onnx file to write")
    exporter.add_argument("--size", type=int, help="resolution; none given = the trained one")
    exporter.add_argument("--input", choices=("z", "w", "w+"), default="z",
                          help="the graph's input: z (N, D) through the mapping network, w "
                               "(N, D), or w+ (N, layers, D), one w per AdaIN layer")
    exporter.add_argument("--truncation", type=float, default=1.0,
                          help="psi around the w average, in the graph; 1 = off")
    exporter.add_argument("--truncation_cutoff", type=int,
                          help="truncate only the first N AdaIN layers; none given = all")
    exporter.add_argument("--seed", type=int, default=0,
                          help="of the fixed noise maps (NVIDIA's pickles: their own maps)")
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
    if args.command == "export":
        from exporting import export_onnx

        size, written = export_onnx(args.ckpt, args.target, args.size, args.truncation,
                                    args.input, args.truncation_cutoff, args.seed)
        print(f"wrote {args.target} ({size} px, input {args.input}, {written / 1e6:.1f} MB)")
        return written
    checkpoint = convert(args.source, args.target, args.to)
    size = (checkpoint.get("meta") or {}).get("size")
    print(f"wrote {args.target}" + (f" ({size} px)" if size else ""))


if __name__ == "__main__":
    run_cli(main)
