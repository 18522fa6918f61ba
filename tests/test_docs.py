"""The docs live in the repository and stay true to it: no project file points outside the repository, every
link between the README and docs/ resolves (file and anchor), and docs/architecture.md's package map lists
exactly the modules the package has."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LINK = re.compile(r"\]\(([^)\s]+)\)")


def tracked_text_files() -> list[Path]:
    names = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    return [REPO / n for n in names if Path(n).suffix in {".py", ".md", ".yaml", ".toml", ".txt", ""} and (REPO / n).is_file()]


def test_no_project_file_points_outside_the_repository():
    outside = re.compile(r"\.\./shared|metrics-reference")
    hits = [f"{p.relative_to(REPO)}:{n}" for p in tracked_text_files() if p.name != "test_docs.py"
            for n, line in enumerate(p.read_text("utf-8", errors="replace").splitlines(), start=1) if outside.search(line)]
    assert hits == []


def slug(heading: str) -> str:
    """GitHub's anchor for a Markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    return {slug(line.lstrip("#")) for line in page.read_text("utf-8").splitlines() if line.startswith("#")}


def test_every_link_of_the_readme_and_docs_resolves():
    pages = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    broken = []
    for page in pages:
        for target in LINK.findall(page.read_text("utf-8")):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            path, _, anchor = target.partition("#")
            dest = (page.parent / path).resolve() if path else page
            if not dest.exists():
                broken.append(f"{page.name}: {target} (no such file)")
            elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
                broken.append(f"{page.name}: {target} (no such heading)")
    assert broken == []


def documented_modules() -> set[str]:
    """Module paths the package map names: full paths (`engine/pipeline.py`), files listed in a folder's bullet
    (`chunkers/`: `base.py`, ...) and in the tasks / metrics paragraphs."""
    text = (REPO / "docs" / "architecture.md").read_text("utf-8")
    found: set[str] = set()
    folder = None
    for line in text.splitlines():
        bullet = re.match(r"^- `(\w+)/`:", line)
        paragraph = re.match(r"^(?:Suites|Metric functions) \(`(\w+)/`", line)
        if bullet or paragraph:
            folder = ("harness/" + bullet.group(1)) if bullet else paragraph.group(1)
        elif re.match(r"^- `[\w/]+\.py`:", line):
            folder = None
            found.add("harness/" + re.match(r"^- `([\w/]+\.py)`", line).group(1))
            continue
        elif not line.startswith(("  ", "`")) and not (folder in ("tasks", "metrics") and line.strip()):
            folder = None
        if folder:
            found |= {f"{folder}/{name}" for name in re.findall(r"`(\w+\.py)`", line)}
    return found


def test_the_package_map_lists_every_module_and_no_other():
    actual = {str(p.relative_to(REPO)) for root in ("harness", "tasks", "metrics") for p in (REPO / root).rglob("*.py")
              if p.name != "__init__.py" and "__pycache__" not in p.parts}
    documented = documented_modules()
    assert sorted(actual - documented) == [] and sorted(documented - actual) == []
