"""Widget screenshots for docs/notebooks.md: ``python docs/screenshots/make_screenshots.py``.

``python docs/screenshots/make_screenshots.py worker-panel`` remakes only the
scenes named.

How: each scene below is a tiny notebook that sets up some state and shows a
widget; it is executed on a real kernel with its widget state stored
(nbclient), rendered to HTML with that state (nbconvert, the widget renderer
and require.js from npm, installed once into ``~/.cache/thoonk-docs``), and
photographed by headless Chromium (Debian's ``chromium`` package).

Needs: ``pip install nbconvert``, ``apt-get install chromium``, ``npm``. Uses
``$THOONK_REDIS_URL``, or a private embedded server in a temporary directory.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbclient
import nbformat
from nbconvert import HTMLExporter

HERE = Path(__file__).resolve().parent
CACHE = Path.home() / ".cache" / "thoonk-docs"
RENDERER = CACHE / "node_modules/@jupyter-widgets/html-manager/dist/embed-amd.js"
REQUIRE = CACHE / "node_modules/requirejs/require.js"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--allow-file-access-from-files", "--hide-scrollbars", "--virtual-time-budget=8000",
]  # fmt: skip

SETTLE = """
import time
def settle(check, deadline=15):
    end = time.monotonic() + deadline
    while not check() and time.monotonic() < end:
        time.sleep(0.05)
    assert check()
"""

SCENES: dict[str, tuple[str, list[str], str]] = {
    # name: (window size, setup cells, the cell whose widget is photographed)
    "feed-view": (
        "900,280",
        [
            "from thoonk_actors import sync\nt = sync.connect()\nnews = t.feed('newsroom')\n"
            "news.delete()\nnews.create({'max_length': 20})",
            "for title, score in [('Thoonk on trio', 5), ('Feeds in notebooks', 4), "
            "('Jobs that are never lost', 5)]:\n"
            "    news.publish({'title': title, 'score': score})",
            SETTLE,
        ],
        "view = news.view()\nsettle(lambda: len(view.ids()) == 3)\nview",
    ),
    "job-board": (
        "900,320",
        [
            "from thoonk_actors import sync\nt = sync.connect()\njobs = t.job('emails')\n"
            "jobs.delete()\njobs.create({'max_cancels': 1})",
            "ids = jobs.publish_many([{'to': f'user{n}@example.org'} for n in range(12)])\n"
            "done = jobs.claim_many(6)\njobs.finish_many([(j, {'sent': True}) for j in done])\n"
            "bad = jobs.get(timeout=5)\n"
            "jobs.cancel(bad, error='SMTPRecipientsRefused: user6@example.org')\n"
            "busy = jobs.claim_many(2)",
            SETTLE,
        ],
        "board = jobs.view()\nsettle(lambda: board.counts.get('stalled') == 1 and "
        "len(board.state()['claimed']) == 2)\nboard",
    ),
    "worker-panel": (
        "900,430",
        [
            "import logging\nlogging.getLogger('thoonk_actors').setLevel(logging.ERROR)\n"
            "from thoonk_actors import sync\nfrom thoonk_actors.runtime import current_job\n"
            "t = sync.connect()\njobs = t.job('thumbnails')\njobs.delete()",
            "def thumbnail(item):\n"
            "    if item['n'] % 50 == 7 and current_job().failures == 0:\n"
            "        raise ConnectionError('storage timed out')\n"
            "    return {'thumbnail': f\"photo-{item['n']}.small.png\"}\n"
            "worker = t.process('thumbnails', thumbnail, concurrency=4, max_cancels=3)\n"
            "jobs.publish_many({'n': n} for n in range(200))\n"
            "assert worker.wait(timeout=60).finished == 200",
            SETTLE,
        ],
        "panel = worker.view()\nsettle(lambda: panel.progress.value == 200 and "
        "len(panel.state()['errors']) == 4)\npanel",
    ),
}


def ensure_js() -> None:
    if RENDERER.exists() and REQUIRE.exists():
        return
    CACHE.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["npm", "install", "--prefix", str(CACHE), "--no-audit", "--no-fund",
         "@jupyter-widgets/html-manager@1", "requirejs"],
        check=True,
    )  # fmt: skip


def photograph(name: str, size: str, setup: list[str], shown: str, work: Path) -> Path:
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    notebook.cells = [nbformat.v4.new_code_cell(src) for src in [*setup, shown]]
    nbclient.NotebookClient(
        notebook, timeout=120, kernel_name="python3", store_widget_state=True
    ).execute()
    notebook.cells = notebook.cells[-1:]  # only the widget
    exporter = HTMLExporter(template_name="lab", exclude_input=True)
    exporter.require_js_url = REQUIRE.as_uri()
    exporter.widget_renderer_url = RENDERER.as_uri()
    body, _ = exporter.from_notebook_node(notebook)
    page = work / f"{name}.html"
    page.write_text(body, encoding="utf-8")
    out = HERE / f"{name}.png"
    subprocess.run(
        [shutil.which("chromium") or "chromium", *CHROMIUM_FLAGS,
         f"--user-data-dir={work / 'chromium'}", f"--window-size={size}",
         f"--screenshot={out}", page.as_uri()],
        check=True, capture_output=True,
    )  # fmt: skip
    return out


def main(names: list[str]) -> int:
    unknown = sorted(set(names) - set(SCENES))
    if unknown:
        print(f"unknown scene(s) {unknown}; the scenes are {sorted(SCENES)}", file=sys.stderr)
        return 2
    ensure_js()
    with tempfile.TemporaryDirectory(prefix="th-shots-", dir="/tmp") as tmp:
        work = Path(tmp)
        if not os.environ.get("THOONK_REDIS_URL"):
            from thoonk_actors.embedded import ensure_embedded_server

            os.environ["THOONK_REDIS_URL"] = ensure_embedded_server(work / "redis").url
        for name, (size, setup, shown) in SCENES.items():
            if names and name not in names:
                continue
            shot = photograph(name, size, setup, shown, work)
            print("wrote", shot.relative_to(HERE.parent.parent))
        if (work / "redis").exists():
            from thoonk_actors.embedded import stop_embedded_server

            stop_embedded_server(work / "redis")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
