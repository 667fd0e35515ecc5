"""The layout rule, checked on the source: each module imports only modules of its own package
and of layers below it, and no script imports another script. A new top-level module or package
must be given its layer here (and in docs/layout.md)."""
import ast
import os

from conftest import ROOT

# lowest first; a module may import its own package and anything in an earlier layer
LAYERS = [
    {"cli", "cuda13"},                     # import nothing of the project
    {"runtime"},                           # before Jittor: device, AMX, quiet start-up
    {"onednn", "imaging"},
    {"convolution"},
    {"model"},
    {"formats"},
    {"perceptual", "dataset"},
    {"rendering"},
    {"evaluation"},
    {"editing", "training", "explorer", "exporting"},
    {"benchmarks"},
    {"train", "generate", "resize", "projector", "edit", "metrics", "digits", "plot",
     "checkpoint", "benchmark", "explore"},           # the scripts users run
]
LAYER_OF = {name: index for index, names in enumerate(LAYERS) for name in names}
SCRIPTS = LAYERS[-1]


def project_modules():
    """{top-level name: [source files]} of the project (tests and the virtualenv aside)."""
    found = {}
    for entry in sorted(os.listdir(ROOT)):
        path = os.path.join(ROOT, entry)
        if entry.endswith(".py"):
            found[entry[:-3]] = [path]
        elif os.path.isfile(os.path.join(path, "__init__.py")) and entry != "test":
            found[entry] = [os.path.join(path, name) for name in sorted(os.listdir(path))
                            if name.endswith(".py")]
    return found


def imported_names(path):
    """Top-level names of every import in a file, function-level imports included."""
    with open(path) as source:
        tree = ast.parse(source.read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name.split(".")[0], node.lineno
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module.split(".")[0], node.lineno


def test_every_module_has_a_layer():
    assert sorted(set(project_modules()) - set(LAYER_OF)) == []


def test_nothing_imports_a_module_above_it_and_no_script_imports_a_script():
    modules = project_modules()
    wrong = []
    for name, files in modules.items():
        for path in files:
            for imported, line in imported_names(path):
                if imported not in modules or imported == name:
                    continue  # the standard library, a package, or its own package
                if LAYER_OF[imported] >= LAYER_OF[name]:
                    wrong.append(f"{os.path.relpath(path, ROOT)}:{line} imports {imported}")
    assert wrong == []


def test_the_checker_sees_a_script_importing_a_script(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from generate import Renderer\n")
    assert ("generate", 2) in list(imported_names(str(bad)))
    assert LAYER_OF["generate"] >= LAYER_OF["metrics"]  # same layer: refused
