"""Explore checkpoints in the browser: seeds, truncation, style mixing, noise, interpolation
and latent directions, on a page served from this machine.

    python explore.py checkpoint/last.model                        # http://127.0.0.1:8000/
    python explore.py a.model karras2019stylegan-ffhq-1024x1024.pkl --directions to3.npy
    python explore.py last.model --host 0.0.0.0 --port 8080        # others on the network: with a token
"""
import argparse
import os
import sys

from cli import (DescriptionAndDefaults, UsageError, add_runtime_args, answer_help_before_jittor,
                 run_cli)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=DescriptionAndDefaults)
    parser.add_argument("ckpt", nargs="+", help="checkpoints: ours, StyleGAN-jittor's, "
                                                "rosinality's or NVIDIA's .pkl")
    parser.add_argument("--directions", nargs="+", default=[], metavar="NPY",
                        help="latent directions written by edit.py direction, each with a slider")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on; any but 127.0.0.1/localhost lets others "
                             "in and adds a random token to the address")
    parser.add_argument("--port", type=int, default=8000, help="port; 0 = any free one")
    add_runtime_args(parser)
    return parser.parse_args(argv)


answer_help_before_jittor(__name__, parse_args)
# the imports below start Jittor
from runtime import select_device
from rendering import read_direction
from explorer import Explorer, ModelView, new_token, serve
from explorer.server import LOOPBACK


def unique_names(paths):
    """A name per checkpoint for the page: its file name, with a number where two clash."""
    names = {}
    for path in paths:
        base = os.path.basename(path)
        name, count = base, 1
        while name in names:
            count += 1
            name = f"{base} ({count})"
        names[name] = path
    return names


def build(args):
    for path in args.ckpt + args.directions:
        if not os.path.isfile(path):
            raise UsageError(f"{path}: no such file")
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port {args.port}: choose 0-65535")
    select_device(args.device)
    views = {name: ModelView(path) for name, path in unique_names(args.ckpt).items()}
    code_dims = {view.code_dim for view in views.values()}
    if args.directions and len(code_dims) > 1:
        raise UsageError("--directions: the checkpoints have w of different sizes "
                         f"({sorted(code_dims)}); explore them separately")
    directions = [(os.path.basename(path), read_direction(path, code_dims.pop()))
                  for path in args.directions]
    token = None if args.host in LOOPBACK else new_token()
    return Explorer(views, directions, token)


def main(argv=None):
    args = parse_args(argv)
    explorer = build(args)
    try:
        server = serve(explorer, args.host, args.port)
    except OSError as error:
        raise UsageError(f"--host {args.host} --port {args.port}: cannot listen there "
                         f"({error.strerror or error}); choose another --port") from None
    port = server.server_address[1]
    shown_host = f"[{args.host}]" if ":" in args.host else args.host
    address = f"http://{shown_host}:{port}/" + (f"?token={explorer.token}" if explorer.token else "")
    if explorer.token:
        print(f"warning: --host {args.host} lets other machines reach this page; it needs the "
              f"token in the address below", file=sys.stderr)
    print(f"explore.py: serving {len(explorer.views)} checkpoint(s) at {address}  (Ctrl-C stops)",
          flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
    finally:
        server.server_close()


if __name__ == "__main__":
    run_cli(main)
