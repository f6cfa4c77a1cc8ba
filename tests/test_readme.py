"""README.md stays a landing page that tells the truth about the tree (issue 17).

The README's "Where things are" section is a list of lines in one format,

    - `path` — what it is

and this module checks it against the files on disk, so that it cannot rot:

* every listed path exists (a directory is written with a trailing ``/``);
* every path the layout must show is listed:

  - every top-level ``*.py`` file and every top-level directory (hidden ones, caches and
    git-ignored runtime folders aside);
  - every directory that holds Python code under the application's packages
    (``data/``, ``api/``, ``ui/``, ``pages/``, ``migrations/``), e.g. ``data/importing/``;
  - every module directly in ``data/``, ``ui/``, ``api/`` and ``api/routes/`` (not their
    ``__init__.py``).  Modules of the sub-packages of ``data/`` are described by their
    package's line; ``pages/``, ``bench/`` and ``tests/`` by their directory's line.

It also checks that README.md is at most 15 KB, that it has the sections a landing page
needs, that every runtime dependency is named in its Dependencies section, and that every
relative link (and ``#anchor``) in README.md and docs/*.md points at something that exists.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"

MAX_README_BYTES = 15_000
LAYOUT_HEADING = "Where things are"
DEPENDENCIES_HEADING = "Dependencies"
REQUIRED_SECTIONS = (
    "The two commands",
    "Signing in",
    "A short tour",
    "Security model",
    LAYOUT_HEADING,
    DEPENDENCIES_HEADING,
    "Documentation",
)

# Directories whose every Python-holding subdirectory must be listed.
APP_PACKAGES = ("data", "api", "ui", "pages", "migrations")
# Directories whose every module must be listed.
MODULE_DIRS = ("data", "ui", "api", "api/routes")
# Never part of the layout: caches, environments and git-ignored runtime state.
NOT_LAYOUT = frozenset({"__pycache__", "var", "artifacts", "node_modules", "htmlcov"})

ENTRY = re.compile(r"^- `(?P<path>[^`]+)` — (?P<text>\S.*)$")
LINK = re.compile(r"!?\[[^\]]*\]\((?P<target>[^)\s]+)(?:\s+\"[^\"]*\")?\)")
HEADING = re.compile(r"^(#{1,6})\s+(?P<text>.+?)\s*#*\s*$")
FENCE = re.compile(r"^\s*(```|~~~)")


# -- reading the README ----------------------------------------------------------------


def prose_lines(text: str) -> list[str]:
    """The lines of a Markdown text outside fenced code blocks."""
    lines, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            lines.append(line)
    return lines


def section(text: str, title: str) -> list[str]:
    """The lines under the ``## title`` heading, up to the next heading of level 1 or 2."""
    lines = prose_lines(text)
    try:
        start = lines.index(f"## {title}")
    except ValueError:
        raise AssertionError(f"README.md has no '## {title}' section") from None
    body = []
    for line in lines[start + 1 :]:
        if re.match(r"^#{1,2}\s", line):
            break
        body.append(line)
    return body


def layout_entries(text: str) -> dict[str, str]:
    """The layout section as {path: description}; a malformed or repeated entry fails."""
    entries: dict[str, str] = {}
    for line in section(text, LAYOUT_HEADING):
        if not line.startswith("- "):
            continue  # prose around the list
        match = ENTRY.match(line)
        assert match, f"layout line not in the form '- `path` — description': {line!r}"
        path = match["path"]
        assert path not in entries, f"{path} is listed twice in the layout"
        entries[path] = match["text"]
    assert entries, "the layout section lists no paths"
    return entries


# -- reading the tree ------------------------------------------------------------------


def _layout_dir(path: Path) -> bool:
    return path.is_dir() and not path.name.startswith(".") and path.name not in NOT_LAYOUT


def _holds_python(folder: Path) -> bool:
    return any(child.suffix == ".py" for child in folder.iterdir() if child.is_file())


def _python_dirs(top: Path) -> Iterable[Path]:
    """``top`` and every directory below it that holds Python files (caches aside)."""
    if not _layout_dir(top):
        return
    if _holds_python(top):
        yield top
    for child in sorted(top.iterdir()):
        if _layout_dir(child):
            yield from _python_dirs(child)


def required_paths(root: Path) -> set[str]:
    """What the layout section must list, as it writes paths (directories end in ``/``)."""

    def name(path: Path) -> str:
        relative = path.relative_to(root).as_posix()
        return relative + "/" if path.is_dir() else relative

    required = {name(path) for path in root.glob("*.py")}
    required |= {name(path) for path in root.iterdir() if _layout_dir(path)}
    for package in APP_PACKAGES:
        required |= {name(folder) for folder in _python_dirs(root / package)}
    for folder in MODULE_DIRS:
        required |= {
            name(module) for module in (root / folder).glob("*.py") if module.name != "__init__.py"
        }
    return required


def unlisted(root: Path, readme_text: str) -> set[str]:
    return required_paths(root) - set(layout_entries(readme_text))


def missing_on_disk(root: Path, readme_text: str) -> set[str]:
    missing = set()
    for path in layout_entries(readme_text):
        target = root / path.rstrip("/")
        if not (target.is_dir() if path.endswith("/") else target.is_file()):
            missing.add(path)
    return missing


# -- links -----------------------------------------------------------------------------


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces → ``-``."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link keeps its text
    text = text.strip().lower()
    kept = "".join(
        char
        for char in text
        if char in " -_" or unicodedata.category(char)[0] in ("L", "N")  # letters, digits
    )
    return kept.replace(" ", "-")


def anchors(markdown: Path) -> set[str]:
    found: set[str] = set()
    seen: dict[str, int] = {}
    for line in prose_lines(markdown.read_text(encoding="utf-8")):
        match = HEADING.match(line)
        if not match:
            continue
        anchor = github_anchor(match["text"])
        count = seen.get(anchor, 0)
        seen[anchor] = count + 1
        found.add(anchor if count == 0 else f"{anchor}-{count}")
    return found


def broken_links(markdown: Path, root: Path) -> list[str]:
    """Relative links of ``markdown`` whose file, or whose ``#anchor`` in a .md, is missing."""
    problems = []
    text = "\n".join(prose_lines(markdown.read_text(encoding="utf-8")))
    text = re.sub(r"`[^`\n]*`", "", text)  # inline code is not a link
    for match in LINK.finditer(text):
        target = match["target"]
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):
            continue  # http:, https:, mailto: ...
        path_part, _, fragment = target.partition("#")
        resolved = (markdown.parent / path_part).resolve() if path_part else markdown
        if not resolved.exists():
            problems.append(f"{markdown.relative_to(root)}: {target} (no such file)")
            continue
        if not resolved.is_relative_to(root):
            problems.append(f"{markdown.relative_to(root)}: {target} (outside the project)")
            continue
        if fragment and resolved.suffix == ".md" and fragment not in anchors(resolved):
            problems.append(f"{markdown.relative_to(root)}: {target} (no such heading)")
    return problems


# -- the tests -------------------------------------------------------------------------


def readme_text() -> str:
    return README.read_text(encoding="utf-8")


def test_the_readme_is_at_most_15_kb() -> None:
    size = len(README.read_bytes())
    assert size <= MAX_README_BYTES, (
        f"README.md is {size:,} bytes; keep it a landing page of at most "
        f"{MAX_README_BYTES:,} and move details to docs/"
    )


@pytest.mark.parametrize("title", REQUIRED_SECTIONS)
def test_the_readme_has_the_sections_of_a_landing_page(title: str) -> None:
    section(readme_text(), title)


def test_every_path_in_the_layout_exists() -> None:
    missing = missing_on_disk(ROOT, readme_text())
    assert not missing, f"the README's layout lists paths that do not exist: {sorted(missing)}"


def test_every_module_and_code_directory_is_in_the_layout() -> None:
    missing = unlisted(ROOT, readme_text())
    assert not missing, (
        "add a line '- `path` — what it is' to the README's "
        f"'{LAYOUT_HEADING}' section for: {sorted(missing)}"
    )


def test_the_check_notices_a_module_added_without_a_line(tmp_path: Path) -> None:
    """The check is not vacuous: a tree with one more module than the list fails it."""
    for folder in ("data/customers", "api/routes", "ui", "pages", "migrations/versions"):
        (tmp_path / folder).mkdir(parents=True)
    for module in ("manage.py", "data/db.py", "data/customers/__init__.py", "api/main.py"):
        (tmp_path / module).write_text("")
    (tmp_path / "var").mkdir()  # git-ignored runtime state is not layout
    (tmp_path / "data" / "__pycache__").mkdir()
    listed = [
        "manage.py",
        "data/",
        "data/db.py",
        "data/customers/",
        "api/",
        "api/main.py",
        "api/routes/",
        "ui/",
        "pages/",
        "migrations/",
    ]
    text = "## Where things are\n\n" + "".join(f"- `{p}` — something\n" for p in listed)
    assert unlisted(tmp_path, text) == set()
    assert missing_on_disk(tmp_path, text) == set()

    (tmp_path / "data" / "newcomer.py").write_text("")
    (tmp_path / "data" / "newpackage").mkdir()
    (tmp_path / "data" / "newpackage" / "part.py").write_text("")
    (tmp_path / "ui" / "widget.py").write_text("")
    (tmp_path / "migrations" / "versions" / "0001_x.py").write_text("")
    assert unlisted(tmp_path, text) == {
        "data/newcomer.py",
        "data/newpackage/",
        "ui/widget.py",
        "migrations/versions/",
    }
    (tmp_path / "data" / "db.py").unlink()
    assert missing_on_disk(tmp_path, text) == {"data/db.py"}


def test_every_runtime_dependency_is_explained() -> None:
    def norm(name: str) -> str:
        return re.sub(r"[-_.]+", "-", name).lower()

    packages = []
    for line in (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            packages.append(re.split(r"[\[<>=!~;\s]", line, maxsplit=1)[0])
    named = {
        norm(name)
        for line in section(readme_text(), DEPENDENCIES_HEADING)
        for name in re.findall(r"`([^`]+)`", line)
    }
    unexplained = [p for p in packages if norm(p) not in named]
    assert not unexplained, f"the README's Dependencies section does not name {unexplained}"


def test_relative_links_in_the_readme_and_docs_point_at_files() -> None:
    documents = [README, *sorted(DOCS.glob("*.md"))]
    problems = [problem for document in documents for problem in broken_links(document, ROOT)]
    assert not problems, "broken links:\n" + "\n".join(problems)


def test_the_link_check_notices_a_broken_link(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("# Title\n\n## Import limits\n")
    page = tmp_path / "README.md"
    page.write_text(
        "[ok](docs/a.md) [ok](docs/a.md#import-limits) [web](https://example.com)\n"
        "[gone](docs/b.md) [no heading](docs/a.md#nothing) `[code](not/a/link.md)`\n"
    )
    assert broken_links(page, tmp_path) == [
        "README.md: docs/b.md (no such file)",
        "README.md: docs/a.md#nothing (no such heading)",
    ]
