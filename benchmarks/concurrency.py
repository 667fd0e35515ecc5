"""Two Jittor jobs on the same cores: a demo-style training iteration timed alone, then two of
them at once, under each OpenMP wait policy. Jittor's CPU kernels and oneDNN run on GNU
OpenMP, whose idle threads spin before they sleep; two processes that each spin on every core
take the cores from each other.

    python -m benchmarks.concurrency --job SECONDS START_AT SIZE WIDTH BATCH   (one job)
"""
import os
import subprocess
import sys
import time

PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# the environment each policy gives both jobs; runtime.py's own choice is "ours"
POLICIES = {
    "libgomp default": {"GOMP_SPINCOUNT": "300000"},
    "ours": {},
    "passive": {"OMP_WAIT_POLICY": "PASSIVE"},
}


def policy_environment(name):
    """A named policy, or "spin N": idle threads spin N times before they sleep."""
    if name.startswith("spin "):
        return {"GOMP_SPINCOUNT": str(int(name.split()[1]))}
    return POLICIES[name]


def run_job(seconds, start_at, size, width, batch):
    """Warm up, wait for start_at (so that concurrent jobs time the same window), train for
    `seconds`, print img/s."""
    from benchmarks.overhead import our_iteration
    from runtime import jt, select_device

    select_device("cpu")
    iteration = our_iteration(size, batch, width, code_dim=128, loss="wgan-gp")
    for _ in range(3):
        iteration()
    jt.sync_all(True)
    time.sleep(max(0.0, start_at - time.time()))
    started, images = time.time(), 0
    while time.time() - started < seconds:
        iteration()
        jt.sync_all(True)
        images += batch
    print(f"img/s={images / (time.time() - started):.2f}", flush=True)


def start_jobs(count, args, policy_env):
    env = {key: value for key, value in os.environ.items()
           if key not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")}
    env.update(policy_env)
    # every job compiles and warms up before this moment (the first job of a policy also
    # meets a warm operator cache: `concurrent` runs a job alone first)
    start_at = time.time() + 25
    command = [sys.executable, "-m", "benchmarks.concurrency", "--job", str(args.seconds),
               str(start_at), str(args.size), str(args.width), str(args.batch)]
    jobs = [subprocess.Popen(command, cwd=PROJECT, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for _ in range(count)]
    speeds = []
    for job in jobs:
        out, err = job.communicate()
        found = [line for line in out.splitlines() if line.startswith("img/s=")]
        if job.returncode or not found:
            raise SystemExit(f"error: a benchmark job failed: "
                             f"{(err.strip().splitlines() or ['no output'])[-1]}")
        speeds.append(float(found[-1].split("=")[1]))
    return speeds


def bench_concurrent(args):
    names = list(POLICIES) if args.wait_policy == ["all"] else args.wait_policy
    print(f"training iteration at {args.size} px, width {args.width}, batch {args.batch}, "
          f"{os.cpu_count()} cores, {args.seconds:.0f} s timed per run")
    print("| wait policy | alone img/s | two at once img/s | each keeps |")
    print("| --- | --- | --- | --- |")
    for name in names:
        alone = start_jobs(1, args, policy_environment(name))[0]
        both = start_jobs(2, args, policy_environment(name))
        print(f"| {name} | {alone:.1f} | {both[0]:.1f} + {both[1]:.1f} | "
              f"{min(both) / alone:.0%} |", flush=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--job"]:
        sys.path.insert(0, PROJECT)
        seconds, start_at, size, width, batch = sys.argv[2:7]
        run_job(float(seconds), float(start_at), int(size), int(width), int(batch))
