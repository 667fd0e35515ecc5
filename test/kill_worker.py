"""Run by test_faults: train.py that kills itself with SIGKILL (no clean-up of any kind)
right after iteration KILL_AT, as a machine failure or the OOM killer would."""
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import train  # noqa: E402
import training.loop  # noqa: E402

kill_at, argv = int(sys.argv[1]), sys.argv[2:]
save_outputs = training.loop.save_outputs


def save_outputs_then_die(state, *args):
    save_outputs(state, *args)
    if state.iteration == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)


training.loop.save_outputs = save_outputs_then_die
train.main(argv)
