"""Real-browser check of the notebooks: JupyterLab + Chromium, Run All, screenshots.

    python docs/screenshots/lab_check.py              # all notebooks
    python docs/screenshots/lab_check.py 02-jobs      # only those named

What it does, for each notebook in ``notebooks/``: copies it to a scratch
folder, opens it in a real JupyterLab (a private server on a loopback port)
in headless Chromium driven by Selenium, runs *Run All Cells*, waits until
every cell has run, then checks the page as a person would see it — no
"Error displaying widget", no error output, no stderr poured into a widget's
cell — and photographs the widgets' outputs into ``$TMPDIR/thoonk-lab-check/``
(``<notebook>-<n>.png``, with ``-page.png`` the whole window), and a few of them
into ``docs/screenshots/`` under the names docs/notebooks.md uses. Prints one
line per notebook; exits 1 if a check failed.

Needs (dev only, not project dependencies): ``apt-get install chromium
chromium-driver`` and ``pip install jupyterlab selenium`` in this venv, plus the
``notebook`` and ``plots`` extras. Uses ``$THOONK_REDIS_URL``, or a private
embedded server in a temporary directory.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

ROOT = Path(__file__).resolve().parents[2]
OUT = Path(__file__).resolve().parent
LAB_OUT = Path(tempfile.gettempdir()) / "thoonk-lab-check"  # every shot; not kept in git
RUN_TIMEOUT = 300.0

#: (notebook, index of the widget output among the notebook's widget outputs) -> doc image
DOC_SHOTS = {
    ("01-feeds", 1): "feed-view.png",
    ("02-jobs", 0): "job-board.png",
    ("03-workers-and-widgets", 1): "worker-panel.png",
    ("03-workers-and-widgets", 4): "dashboard.png",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def redis_url() -> Iterator[str]:
    if os.environ.get("THOONK_REDIS_URL"):
        yield os.environ["THOONK_REDIS_URL"]
        return
    from thoonk_actors.embedded import ensure_embedded_server, stop_embedded_server

    root = tempfile.mkdtemp(prefix="thlab-", dir="/tmp")
    try:
        yield ensure_embedded_server(root).url
    finally:
        stop_embedded_server(root)
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def jupyter_lab(workdir: Path, url: str) -> Iterator[str]:
    port, token = free_port(), "thoonk-lab-check"
    settings = workdir / "_settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    # Render every cell (Lab 4 only renders the visible ones by default).
    (settings / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    news = workdir / "_settings" / "@jupyterlab" / "apputils-extension"
    news.mkdir(parents=True)
    (news / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )  # no "get notified about news?" toast over the screenshots
    env = {**os.environ, "THOONK_REDIS_URL": url, "PYTHONPATH": str(ROOT)}
    log = (workdir / "_lab.log").open("w")
    lab = subprocess.Popen(
        [
            sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}",
            "--ip=127.0.0.1", "--allow-root", f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={workdir}", "--LabApp.expose_app_in_browser=True",
            f"--LabApp.user_settings_dir={workdir / '_settings'}",
            f"--LabApp.workspaces_dir={workdir / '_workspaces'}",
        ],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not _listening(port):
            if lab.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"JupyterLab did not start: see {workdir / '_lab.log'}")
            time.sleep(0.2)
        # reset: a fresh workspace each time, with only that notebook open
        yield f"http://127.0.0.1:{port}/lab/tree/{{}}?reset&token={token}"
    finally:
        lab.terminate()
        lab.wait(30)
        log.close()


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), 1).close()
    except OSError:
        return False
    return True


STDERR = "application/vnd.jupyter.stderr"
NODE = "jupyterapp.shell.currentWidget.node"  # the notebook shown (other tabs stay in the DOM)
WIDGET_OUTPUTS = (
    f"return [...{NODE}.querySelectorAll('.jp-OutputArea-output')]"
    ".filter(e => e.querySelector('.jupyter-widgets'))"
)
STARTED = (
    f"return [...{NODE}.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]"
    ".some(p => /\\[[\\d*]+\\]/.test(p.textContent))"
)
KERNEL_STATUS = (
    "(window.jupyterapp && jupyterapp.shell.currentWidget"
    " && jupyterapp.shell.currentWidget.sessionContext"
    " && jupyterapp.shell.currentWidget.sessionContext.session"
    " && jupyterapp.shell.currentWidget.sessionContext.session.kernel"
    " && jupyterapp.shell.currentWidget.sessionContext.session.kernel.status)"
)


def browser() -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1300,1000",
                 "--disable-dev-shm-usage", "--force-device-scale-factor=1"):  # fmt: skip
        options.add_argument(flag)
    service = Service(shutil.which("chromedriver") or "/usr/bin/chromedriver")
    return webdriver.Chrome(options=options, service=service)


def wait_for(driver: webdriver.Chrome, script: str, what: str, timeout: float) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = driver.execute_script(script)
        if value:
            return value
        time.sleep(0.5)
    raise TimeoutError(f"timed out waiting for {what}")


def check(driver: webdriver.Chrome, address: str, name: str) -> list[str]:
    """Open, Run All, wait, check and photograph one notebook; the problems found."""
    driver.get(address.format(f"{name}.ipynb"))
    wait_for(driver, f"return {KERNEL_STATUS} === 'idle'", "an idle kernel", 120)
    for attempt in range(5):  # a kernel that just said "idle" may not take the command yet
        driver.execute_script("jupyterapp.shell.activateById(jupyterapp.shell.currentWidget.id)")
        driver.execute_script(f"return {NODE}").click()  # focus: the command acts on it
        driver.execute_script("window.jupyterapp.commands.execute('notebook:run-all-cells')")
        try:
            wait_for(driver, STARTED, "the first cell to start", 10)
            break
        except TimeoutError:
            if attempt == 4:
                raise
    try:
        wait_for(
            driver,
            f"""
            const prompts = [...{NODE}.querySelectorAll('.jp-CodeCell .jp-InputPrompt')];
            const ran = prompts.filter(p => /\\[\\d+\\]/.test(p.textContent)).length;
            const busy = prompts.some(p => p.textContent.includes('*'));
            const failed = {NODE}.querySelector("[data-mime-type*='error']");
            return {KERNEL_STATUS} === 'idle' && !busy && (ran === prompts.length || failed);
            """,
            "every cell to have run",
            RUN_TIMEOUT,
        )
    except TimeoutError:
        LAB_OUT.mkdir(exist_ok=True)
        driver.save_screenshot(str(LAB_OUT / f"{name}-timeout.png"))
        raise
    LAB_OUT.mkdir(exist_ok=True)
    driver.save_screenshot(str(LAB_OUT / f"{name}-page.png"))
    time.sleep(3)  # let the views draw their last throttled updates (at most 5 a second)
    problems = []
    notebook = driver.execute_script(f"return {NODE}")
    page = notebook.text
    if "Error displaying widget" in page:
        problems.append("Error displaying widget")
    # stderr printed into a widget's cell (not the stderr a widget shows on purpose,
    # like the WorkerPanel's tracebacks inside its own Output)
    widget_stderr = driver.execute_script(
        f"return [...{NODE}.querySelectorAll('[data-mime-type=\"{STDERR}\"]')]"
        ".filter(e => !e.closest('.jupyter-widgets')"
        " && e.closest('.jp-Cell').querySelector('.jupyter-widgets'))"
        ".map(e => e.textContent.slice(0, 120))"
    )
    if widget_stderr:
        problems.append(f"stderr in widget cells: {widget_stderr}")
    if notebook.find_elements(By.CSS_SELECTOR, "[data-mime-type*='error']"):
        problems.append("an error output")
    shots = driver.execute_script(WIDGET_OUTPUTS)
    blank = [n for n, shot in enumerate(shots) if shot.size["height"] < 20]
    if blank:
        problems.append(f"blank widget outputs: {blank}")
    LAB_OUT.mkdir(exist_ok=True)
    for n, shot in enumerate(shots):
        driver.execute_script("arguments[0].scrollIntoView({block: 'start'})", shot)
        time.sleep(0.3)
        png = shot.screenshot_as_png
        (LAB_OUT / f"{name}-{n}.png").write_bytes(png)
        doc_name = DOC_SHOTS.get((name, n))
        if doc_name:
            (OUT / doc_name).write_bytes(png)
    if not shots:
        problems.append("no widget on screen")
    return problems


def main(names: list[str]) -> int:
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    if names:
        notebooks = [p for p in notebooks if p.stem in names]
    failed = False
    with tempfile.TemporaryDirectory(prefix="thlab-nb-") as scratch, redis_url() as url:
        workdir = Path(scratch)
        for path in notebooks:
            shutil.copy(path, workdir / path.name)
        with jupyter_lab(workdir, url) as address:
            driver = browser()
            try:
                for path in notebooks:
                    problems = check(driver, address, path.stem)
                    failed = failed or bool(problems)
                    print(f"{path.stem}: {'ok' if not problems else '; '.join(problems)}")
            finally:
                driver.quit()
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
