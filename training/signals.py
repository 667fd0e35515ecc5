"""Stopping on SIGINT and SIGTERM after the current iteration, agreed over MPI ranks."""
import signal
import sys

import numpy as np

from runtime import jt


class TrainingStopped(Exception):
    def __init__(self, signum):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class StopSignals:
    """SIGINT (Ctrl-C) and SIGTERM (a cluster's time limit) ask the loop to stop after the
    current iteration; signals that come while it saves change nothing."""

    def __init__(self):
        self.signum = 0

    def __enter__(self):
        self.previous = {s: signal.signal(s, self.handle) for s in (signal.SIGINT, signal.SIGTERM)}
        for signum in self.previous:
            # restart interrupted system calls: Jittor's C++ does not retry them (a signal
            # while it waited for its cache lock ended the process: "fcntl(lock_fd...) failed")
            signal.siginterrupt(signum, False)
        return self

    def __exit__(self, *exc):
        for signum, handler in self.previous.items():
            # after a stop request the process is on its way out: later signals wait for it
            signal.signal(signum, signal.SIG_IGN if self.signum else handler)

    def handle(self, signum, frame):
        if not self.signum:
            self.signum = signum
            if jt.rank == 0:
                print(f"\n{signal.Signals(signum).name}: stopping after this iteration to save",
                      file=sys.stderr)

    def requested(self, iteration, every):
        """The signal to stop for, agreed over MPI ranks so all stop at one iteration; they
        agree every `every` iterations (with the log's host sync), not at each one."""
        if not jt.in_mpi:
            return self.signum
        if iteration % every:
            return 0
        flags = np.array([self.signum == signal.SIGINT, self.signum == signal.SIGTERM], "float32")
        received = jt.array(flags).mpi_all_reduce("add").numpy()
        return signal.SIGINT if received[0] else signal.SIGTERM if received[1] else 0
