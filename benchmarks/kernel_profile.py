"""Where one training iteration's time goes: kernel time summed by kind under
jt.profile_scope, graph building against executing, and memory, written as JSON."""
import contextlib
import json
import re

KINDS = ("convolution library", "slices and reindex", "optimizer", "EMA", "other fused ops")


def kind_of(kernel_name):
    """The kind of one profiled kernel, from the operators its name lists (and the marks
    this benchmark puts on the optimizer's and the EMA's operators)."""
    if "marks:optimizer" in kernel_name:
        return "optimizer"
    if "marks:ema" in kernel_name:
        return "EMA"
    if re.search(r"cudnn|mkl_conv|onednn|bf16_conv", kernel_name):
        return "convolution library"
    if re.search(r"getitem|setitem|reindex", kernel_name):
        return "slices and reindex"
    return "other fused ops"


def times_by_kind(report):
    header, rows = report[0], report[1:]
    name, count, total = (header.index(key) for key in ("Name", "Count", "TotalTime"))
    summary = {kind: {"ms": 0.0, "kernels": 0} for kind in KINDS}
    for row in rows:
        entry = summary[kind_of(row[name])]
        entry["ms"] += float(row[total]) / 1e6
        entry["kernels"] += int(row[count])
    return summary


@contextlib.contextmanager
def marked_updates():
    """The optimizers' updates and the EMA run under profile marks, so that their kernels can
    be told apart. A mark names the kernels that run inside it, so what they read (the
    gradients, G's pending update) runs first, outside, and the update runs before the mark
    ends: two syncs more than training has."""
    from runtime import jt
    from training import ema, optimizers, steps

    apply_gradients, update_ema = optimizers.PerParameterAdam.apply_gradients, ema.update_ema

    def marked_apply(self):
        jt.sync([g for group in self.param_groups for g in group["grads"]])
        with jt.profile_mark("optimizer"):
            apply_gradients(self)
            jt.sync([p for group in self.param_groups for p in group["params"]])

    def marked_ema(pairs, *args, **kwargs):
        jt.sync([var for _, var in pairs])
        with jt.profile_mark("ema"):
            update_ema(pairs, *args, **kwargs)

    optimizers.PerParameterAdam.apply_gradients, steps.update_ema = marked_apply, marked_ema
    try:
        yield
    finally:
        optimizers.PerParameterAdam.apply_gradients, steps.update_ema = apply_gradients, update_ema


def bench_profile(args):
    from benchmarks.overhead import median_times, our_iteration
    from convolution import direct
    from runtime import jt, select_device

    device = select_device(args.device)
    iteration = our_iteration(args.size, args.batch, args.width, args.code_dim)
    with marked_updates():
        for _ in range(3):  # compile every kernel, marked ones included
            iteration()
        jt.sync_all(True)
        with jt.profile_scope() as report:
            iteration()
            jt.sync_all(True)
    wall, sync = median_times(iteration, args.iters, warm_up=2)  # unmarked kernels compile
    memory = jt.get_mem_info()
    result = {
        "device": device, "size": args.size, "batch": args.batch, "width": args.width,
        "cuda_convolutions": direct.cuda_path(),
        "iteration_ms": wall * 1e3, "img_per_s": args.batch / wall,
        "building_graph_ms": (wall - sync) * 1e3, "inside_sync_ms": sync * 1e3,
        "profiled_kernels": times_by_kind(report),
        "memory_held_gib": {"cuda": memory.total_cuda_used / 2**30,
                            "cpu": memory.total_cpu_used / 2**30},
    }
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        with open(args.out, "w") as stream:
            stream.write(text + "\n")
