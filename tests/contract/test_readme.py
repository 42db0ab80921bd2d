"""The README and the docs it leads to can be followed: every link and picture exists, every
extra and script it names exists, and every ``tokentrail`` command line in them parses. (The
commands themselves run in their own tests: the demo, ``tokentrail stack``, the examples, the
zero-code console command, the Compose checks.)"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from tokentrail.cli import build_parser

REPO = Path(__file__).resolve().parents[2]
DOCS = [
    REPO / "README.md",
    REPO / "docs" / "reference.md",
    REPO / "deploy" / "compose" / "README.md",
    REPO / "dashboards" / "README.md",
    REPO / "collector" / "README.md",
    REPO / "examples" / "README.md",
]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
by_doc = pytest.mark.parametrize("doc", DOCS, ids=[str(d.relative_to(REPO)) for d in DOCS])


def anchors(markdown: str) -> set[str]:
    """GitHub's anchors for the headings of ``markdown``."""
    found = set()
    for heading in re.findall(r"^#+ (.+)$", markdown, re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        found.add(slug)
    return found


@by_doc
def test_every_link_and_picture_exists(doc):
    text = doc.read_text()
    for target in LINK.findall(text):
        if target.startswith(("http://", "https://")):
            continue
        path, _, anchor = target.partition("#")
        linked = (doc.parent / path).resolve() if path else doc
        assert linked.exists(), f"{doc.name}: {target}"
        if anchor and linked.suffix == ".md":
            assert anchor in anchors(linked.read_text()), f"{doc.name}: {target}"


def test_the_pictures_are_screenshots():
    pictures = [t for t in LINK.findall((REPO / "README.md").read_text()) if t.endswith(".png")]
    assert len(pictures) >= 3
    for picture in pictures:
        data = (REPO / picture).read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n"), picture
        assert len(data) > 20_000, f"{picture}: too small for a page"


def shell_blocks(markdown: str) -> list[str]:
    """The text of each ```sh block."""
    blocks: list[str] = []
    language = None
    for line in markdown.splitlines():
        if line.startswith("```"):
            if language is None:
                language = line[3:].strip()
                if language == "sh":
                    blocks.append("")
            else:
                language = None
        elif language == "sh":
            blocks[-1] += line + "\n"
    return blocks


def readme_commands() -> list[list[str]]:
    """The ``tokentrail`` command lines of the docs' shell blocks, as argument lists."""
    commands = []
    for doc in DOCS:
        for block in shell_blocks(doc.read_text()):
            for line in block.replace("\\\n", " ").splitlines():
                for command in re.split(r"&&|;|\|", line.split(" #")[0]):
                    words = shlex.split(command)
                    while words and "=" in words[0]:  # VARIABLE=value before the command
                        words.pop(0)
                    if words and Path(words[0]).name == "tokentrail":
                        commands.append(words[1:])
    return commands


def test_every_tokentrail_command_line_parses():
    commands = readme_commands()
    assert ["demo"] in commands
    assert ["stack", "up"] in commands
    parser = build_parser()
    for argv in commands:
        parser.parse_args(argv)  # a wrong one exits 2


def pyproject_section(name: str) -> str:
    text = (REPO / "pyproject.toml").read_text()
    return text.split(f"[{name}]\n", 1)[1].split("\n[", 1)[0]


def test_every_extra_named_exists():
    section = pyproject_section("project.optional-dependencies")
    extras = set(re.findall(r"^(\w+) = \[", section, re.M))
    named = set()
    for doc in DOCS:
        for group in re.findall(r'\.\[([a-z,]+)\]"', doc.read_text()):
            named.update(group.split(","))
    assert named
    assert named <= extras, named - extras


def test_every_script_named_exists_and_runs():
    readme = (REPO / "README.md").read_text()
    scripts = set(re.findall(r"((?:collector|\.ci|docs/img)/[\w./-]+\.(?:sh|py))", readme))
    assert "collector/build.sh" in scripts
    for script in scripts:
        path = REPO / script
        assert path.is_file(), script
        if path.suffix == ".sh" and not script.startswith(".ci/"):
            assert path.stat().st_mode & 0o111, f"{script} is not executable"


def test_the_quick_test_command_selects_by_a_known_marker():
    readme = (REPO / "README.md").read_text()
    assert '-m pytest -m "not e2e"' in readme
    assert '"e2e: ' in pyproject_section("tool.pytest.ini_options")
