"""Markdown as GitHub shows it, checked: markdown-it-py turns it into HTML (tables,
raw HTML, fenced code), Mermaid blocks go through Mermaid itself in Chromium
(render.mjs), and the result is checked for what a reader would see broken.

GitHub's own pipeline differs in details (it sanitises HTML, highlights code and
runs its own Mermaid release), so this checks what can break in our documents:
markdown that no longer parses into the tables it means, code blocks left open,
empty table headers, Mermaid that Mermaid rejects, and charts with nothing drawn.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from markdown_it import MarkdownIt

HERE = Path(__file__).resolve().parent
NODE_MODULES = HERE / "node_modules"
CONFIG = HERE / "puppeteer-config.json"
INSTALL_HINT = (
    "the browser rendering test needs Chromium, Node.js and Mermaid's renderer:\n"
    "  sudo apt-get install -y --no-install-recommends chromium fonts-dejavu-core "
    "fonts-noto-color-emoji\n"
    "  (cd tests/browser && PUPPETEER_SKIP_DOWNLOAD=1 npm ci)\n"
    "or run `bash .ci/run`, which installs both"
)
SVG_NS = "{http://www.w3.org/2000/svg}"

# GitHub's look, roughly. Only fonts that .ci/run installs are named: for a family
# that is not installed, fontconfig may pick the emoji font for digits and spaces.
CSS = """
body { font: 14px/1.5 'DejaVu Sans', sans-serif;
       color: #1f2328; max-width: 900px; margin: 16px auto; padding: 0 16px; }
table { border-collapse: collapse; margin: 8px 0; }
th, td { border: 1px solid #d1d9e0; padding: 4px 10px; }
th { background: #f6f8fa; }
pre { background: #f6f8fa; padding: 12px; border-radius: 6px; overflow: auto;
      font: 12px/1.45 'DejaVu Sans Mono', ui-monospace, monospace; }
code { font-family: 'DejaVu Sans Mono', ui-monospace, monospace; font-size: 85%; }
pre .add { background: #dafbe1; color: #116329; display: inline-block; width: 100%; }
pre .del { background: #ffebe9; color: #82071e; display: inline-block; width: 100%; }
img.mermaid { max-width: 100%; border: 1px solid #d1d9e0; border-radius: 6px; }
blockquote { color: #59636e; border-left: 4px solid #d1d9e0; margin: 0; padding: 0 12px; }
"""


def missing_tools() -> str | None:
    """Why the browser test cannot run here, or None."""
    chromium = json.loads(CONFIG.read_text())["executablePath"]
    if not Path(chromium).is_file():
        return f"{chromium} is not installed"
    if shutil.which("node") is None:
        return "node is not installed"
    if not (NODE_MODULES / "@mermaid-js" / "mermaid-cli").is_dir():
        return f"{NODE_MODULES} has no @mermaid-js/mermaid-cli"
    return None


@dataclass
class Chart:
    doc: str
    index: int
    definition: str

    @property
    def id(self) -> str:
        return f"{self.doc}#chart-{self.index}"


@dataclass
class Page:
    """One markdown document: its HTML (charts as images) and the charts in it."""

    name: str
    markdown: str
    charts: list[Chart] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _highlight_diff(code: str) -> str:
    """GitHub colours a diff block's "+" lines green and "-" lines red."""
    out = []
    for line in code.rstrip("\n").split("\n"):
        cls = {"+": "add", "-": "del"}.get(line[:1])
        text = html.escape(line)
        out.append(f'<span class="{cls}">{text}</span>' if cls else text)
    return "\n".join(out)


def _md() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


def _problems(name: str, text: str, tokens: list) -> list[str]:
    """Broken markdown a reader would see: stray table rows, open code blocks,
    tables with an empty header, unbalanced <details>."""
    lines = text.split("\n")
    covered: set[int] = set()
    found = []
    for i, t in enumerate(tokens):
        if t.type in ("table_open", "fence", "code_block", "html_block") and t.map:
            covered.update(range(*t.map))
        if (
            t.type == "fence"
            and t.map
            and t.map[1] >= len(lines)
            and not lines[-1].startswith("```")
        ):
            found.append(f"{name}: the code block at line {t.map[0] + 1} is never closed")
        if t.type == "table_open":
            heads = []
            for u in tokens[i:]:
                if u.type == "thead_close":
                    break
                if u.type == "inline":
                    heads.append(u.content.strip())
            if not any(heads):
                found.append(f"{name}: the table at line {t.map[0] + 1} has an empty header row")
    for n, line in enumerate(lines):
        if line.startswith("|") and n not in covered:
            found.append(f"{name}: line {n + 1} is a table row outside any table: {line[:60]!r}")
    if text.count("<details>") != text.count("</details>"):
        found.append(f"{name}: <details> and </details> do not pair up")
    return found


def to_html(page: Page, assets: str) -> str:
    """The document as HTML; each Mermaid block becomes <img src="{assets}/chart-N.svg">."""
    md = _md()
    tokens = md.parse(page.markdown)
    page.problems += _problems(page.name, page.markdown, tokens)
    default_fence = md.renderer.rules.get("fence")

    def fence(tokens, idx, options, env):
        t = tokens[idx]
        lang = t.info.strip().split(" ")[0]
        if lang == "mermaid":
            chart = Chart(page.name, len(page.charts) + 1, t.content)
            page.charts.append(chart)
            return f'<p><img class="mermaid" src="{assets}/chart-{chart.index}.svg"></p>\n'
        if lang == "diff":
            return f'<pre class="diff"><code>{_highlight_diff(t.content)}</code></pre>\n'
        return default_fence(tokens, idx, options, env)

    md.renderer.rules["fence"] = fence
    body = md.renderer.render(tokens, md.options, {})
    return (
        f'<!doctype html><html><head><meta charset="utf-8"><style>{CSS}</style></head>'
        f"<body>{body}</body></html>"
    )


def svg_problems(chart: Chart, svg_path: Path) -> list[str]:
    """An error picture, or a chart with no data drawn (no line or bar with a size)."""
    text = svg_path.read_text(encoding="utf-8")
    if "Syntax error" in text or 'class="error-icon"' in text:
        return [f"{chart.id}: Mermaid drew its error picture"]
    root = ET.fromstring(text)
    marks = 0
    for g in root.iter(f"{SVG_NS}g"):
        cls = g.get("class") or ""
        if not re.match(r"(line|bar)-plot-\d+", cls):
            continue
        for el in g:
            if (
                el.tag == f"{SVG_NS}path"
                and "L" in (el.get("d") or "")
                and "NaN" not in el.get("d")
            ):
                marks += 1
            if el.tag == f"{SVG_NS}rect" and float(el.get("height") or 0) > 0:
                marks += 1
    return [] if marks else [f"{chart.id}: the chart draws no data (no line or bar)"]


def render(pages: list[Page], out: Path, png: set[str] = frozenset()) -> list[str]:
    """Render every page and its charts into `out`; the problems found, empty if none.
    Pages named in `png` are also saved as PNG: each chart, the whole page, and
    the forest plot alone (forest.png)."""
    out.mkdir(parents=True, exist_ok=True)
    charts, shots = [], []
    for page in pages:
        folder = out / page.name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "page.html").write_text(to_html(page, folder.as_uri()), encoding="utf-8")
        for c in page.charts:
            job = {
                "id": c.id,
                "definition": c.definition,
                "svg": str(folder / f"chart-{c.index}.svg"),
            }
            if page.name in png:
                job["png"] = str(folder / f"chart-{c.index}.png")
            charts.append(job)
        if page.name in png:
            shots.append(
                {
                    "html": str(folder / "page.html"),
                    "png": str(folder / "page.png"),
                    "parts": {"pre.diff": str(folder / "forest.png")},
                }
            )
    jobs = {"profile": str(out / ".chromium-profile"), "charts": charts, "pages": shots}
    (out / "jobs.json").write_text(json.dumps(jobs, indent=1))
    r = subprocess.run(
        ["node", str(HERE / "render.mjs"), str(out / "jobs.json"), str(out / "results.json")],
        cwd=HERE,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PUPPETEER_SKIP_DOWNLOAD": "1"},
        check=False,
    )
    if r.returncode != 0:
        return [f"render.mjs exited {r.returncode}: {r.stderr.strip()[-2000:]}"]
    results = {x["id"]: x for x in json.loads((out / "results.json").read_text())}
    found = [p for page in pages for p in page.problems]
    for page in pages:
        for c in page.charts:
            res = results.get(c.id, {"ok": False, "error": "not rendered"})
            if not res["ok"]:
                found.append(f"{c.id}: Mermaid rejected it: {res['error']}")
            else:
                found += svg_problems(c, out / page.name / f"chart-{c.index}.svg")
    return found


def measure(pages: list[Page], out: Path, width: int = 900) -> dict[str, dict]:
    """Each page laid out in Chromium at `width` px: {name: {"height": px, "parts":
    [{"tag", "text", "bottom"}]}}, the parts being the headline, paragraphs, list
    items and table rows before the first <details> (the first screen)."""
    out.mkdir(parents=True, exist_ok=True)
    jobs = []
    for page in pages:
        folder = out / page.name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "page.html").write_text(to_html(page, folder.as_uri()), encoding="utf-8")
        jobs.append({"name": page.name, "html": str(folder / "page.html"), "width": width})
    spec = {"profile": str(out / ".chromium-profile"), "charts": [], "pages": [],
            "measure": jobs, "measured": str(out / "measured.json")}  # fmt: skip
    (out / "jobs.json").write_text(json.dumps(spec, indent=1))
    r = subprocess.run(
        ["node", str(HERE / "render.mjs"), str(out / "jobs.json"), str(out / "results.json")],
        cwd=HERE,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PUPPETEER_SKIP_DOWNLOAD": "1"},
        check=False,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    return {j["name"]: j["result"] for j in json.loads((out / "measured.json").read_text())}
