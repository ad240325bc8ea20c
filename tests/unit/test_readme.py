"""The README is the front door: short, and enough on its first screens to get a
stranger from an empty repository to a green build and a commit a clean clone
can build; everything else is in the docs, and its links all resolve."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def _slugs(markdown: str) -> set[str]:
    """GitHub's (and the docs site's) anchors of a page's headings."""
    out = set()
    for heading in re.findall(r"^#{1,6} (.+?)\s*$", markdown, re.M):
        text = re.sub(r"[`*]", "", heading).lower()
        out.add(re.sub(r"[^\w\- ]", "", text).replace(" ", "-"))
    return out


def test_the_readme_is_a_front_door() -> None:
    assert len(README.splitlines()) <= 260


def test_install_says_where_from_which_pythons_how_long_and_how_big() -> None:
    install = README.split("## Install", 1)[1].split("\n## ", 1)[0]
    assert "pip install ci-ml" in install and "git+https://github.com/ci-ml/ci-ml@v0" in install
    assert "3.10 to 3.14" in install and "600–800 MB" in install and "minutes" in install


def test_the_quick_start_commits_the_data() -> None:
    quick = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    git_add = next(line for line in quick.splitlines() if line.startswith("git add"))
    assert "data/train.csv" in git_add and "ci-ml.yaml" in git_add
    assert "Git LFS" in quick and "DVC" in quick and ".venv/" in quick


def test_the_development_pointer_names_both_tiers_and_links_the_guides() -> None:
    dev = README.split("## Development / tests", 1)[1]
    assert "`python -m pytest`" in dev and "python -m pytest --full" in dev
    assert "(CONTRIBUTING.md)" in dev and "(tests/README.md)" in dev


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    commands = re.findall(r"```bash\n(.*?)\n```", README, re.S)
    test_cmd = next(c for c in commands if "pytest" in c and ".[test]" in c)
    assert test_cmd.strip() in (ROOT / ".ci" / "run").read_text()


def test_every_link_of_the_readme_resolves() -> None:
    for target in LINK.findall(README):
        if target.startswith(("http://", "https://")):
            continue
        path, _, anchor = target.partition("#")
        file = ROOT / path if path else ROOT / "README.md"
        assert file.exists(), target
        if anchor:
            assert anchor in _slugs(file.read_text()), target


def test_the_templates_name_the_tag_the_release_moves() -> None:
    for template in (ROOT / "workflows").glob("*.yml"):
        uses = re.findall(r"uses: (ci-ml/ci-ml@\S+)", template.read_text())
        assert uses == ["ci-ml/ci-ml@v0"], template.name
    release = (ROOT / ".github" / "workflows" / "release.yml").read_text()
    assert 'major="v${VERSION%%.*}"' in release and "v0" in README


def test_every_supported_estimator_is_in_the_matrix_test() -> None:
    guide = (ROOT / "docs" / "guide" / "build.md").read_text()
    section = guide.split("### Supported estimators", 1)[1].split("Notes from", 1)[0]
    matrix = (ROOT / "tests" / "unit" / "test_estimator_matrix.py").read_text()
    names = []
    for token in re.findall(r"`([A-Z][A-Za-z/]+)", section):
        if token.endswith("Classifier/Regressor"):
            base = token.removesuffix("Classifier/Regressor")
            names += [base + "Classifier", base + "Regressor"]
        else:
            names.append(token)
    assert len(names) > 20
    for name in names:
        assert name in matrix, name
