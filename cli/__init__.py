"""What every script's command line shares: the one-line error, the exit statuses, the
--device/--verbose options, output-folder checks and the progress bars' redraw rate.

Imports nothing of the project, so every layer may use it (resize.py, which never imports
Jittor, included).
"""
import argparse
import os
import sys


class DescriptionAndDefaults(argparse.RawDescriptionHelpFormatter,
                             argparse.ArgumentDefaultsHelpFormatter):
    """--help keeps the script's description as written and shows every option's default."""


class UsageError(Exception):
    """A problem the user can fix (bad file, bad argument): printed as one line."""


def number_ranges(text):
    """"5-9", "0,2,4" or both mixed -> the whole numbers, in the order given; ValueError
    when a part is not a number or a range of them."""
    numbers = []
    for part in text.split(","):
        low, _, high = part.strip().partition("-")
        if not low.isdigit() or not (high.isdigit() or not high):
            raise ValueError(part)
        numbers += range(int(low), int(high or low) + 1)
    return numbers


def add_runtime_args(parser):
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"],
                        help="where to run; auto = CUDA if usable, else the CPU")
    parser.add_argument("--verbose", action="store_true", help="show Jittor's compile logs")


def answer_help_before_jittor(module_name, parse_args):
    """Run as a script with -h or --help: print the help and exit here, before the script
    imports Jittor, whose first import compiles its core for minutes. A script calls this
    after defining its parse_args and before its Jittor-side imports."""
    if module_name == "__main__" and any(a in ("-h", "--help") for a in sys.argv[1:]):
        parse_args(sys.argv[1:])  # argparse prints the help and exits


def writable_folder(path, argument):
    """Create `path` if needed and prove a file can be written in it, before any work is
    done; otherwise a UsageError naming the argument."""
    import tempfile

    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as error:
        raise UsageError(f"{argument} {path}: cannot write there "
                         f"({error.strerror or error}); choose another folder") from None
    return path


def progress_interval():
    """Seconds between progress-bar redraws: tqdm's 0.1 on a terminal; once a minute when the
    output goes to a file, where every redraw is kept and a long run's log would grow by
    megabytes a day."""
    return 0.1 if sys.stderr.isatty() else 60


def run_cli(main, argv=None):
    """Run a script's main; user errors become one line on stderr and exit status 2."""
    try:
        return main(argv)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
