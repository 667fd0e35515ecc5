"""The README and docs/ hold together: every relative link and picture exists, the README's
test command is the one CI runs, and the README stays a manual (at most 300 lines)."""
import os
import re

from conftest import ROOT


def markdown_files():
    docs = os.path.join(ROOT, "docs")
    return [os.path.join(ROOT, "README.md")] + sorted(
        os.path.join(docs, name) for name in os.listdir(docs) if name.endswith(".md"))


def relative_links(text):
    return [target.split("#")[0] for target in re.findall(r"\]\(([^)\s]+)\)", text)
            if not re.match(r"[a-z]+:", target) and not target.startswith("#")]


def test_every_relative_link_and_picture_exists():
    broken = []
    for path in markdown_files():
        with open(path) as page:
            for target in relative_links(page.read()):
                if not os.path.exists(os.path.join(os.path.dirname(path), target)):
                    broken.append(f"{os.path.relpath(path, ROOT)} -> {target}")
    assert broken == []


def test_the_link_reader_finds_links_and_skips_addresses():
    text = "[a](docs/x.md#part) ![b](pic.png) [c](https://example.org) [d](#here)"
    assert relative_links(text) == ["docs/x.md", "pic.png"]


def test_ci_runs_the_readme_test_command_and_the_readme_stays_short():
    with open(os.path.join(ROOT, "README.md")) as readme:
        text = readme.read()
    with open(os.path.join(ROOT, ".ci", "run")) as ci:
        ci_lines = ci.read().splitlines()
    commands = re.findall(r"```bash\n(.*?)\n```", text, re.S)
    test_command = next(c for c in commands if c.endswith("python -m pytest -q"))
    assert ci_lines[-1] == test_command
    assert len(text.splitlines()) <= 300
