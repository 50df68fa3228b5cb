"""The dashboard and `llmos report --html`: pages over HTTP behind the token, and the same views in
real headless Chromium (Debian's chromium + chromium-driver, driven by selenium; .ci/run installs
them): no console error, every plot has data, a screenshot of each view saved by the run."""

from __future__ import annotations

import os
import shutil
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from helpers import call, git, run_llmos

SHOTS = Path(os.environ.get("LLMOS_SCREENSHOTS") or Path(tempfile.gettempdir()) / "llmos-dashboard-screenshots")
VIEWS = ["", "runs", "memory", "budget", "health", "agents", "agents/assistant", "souls/assistant"]


def populated(root: Path, script) -> dict:
    """Runs (one priced, so the budget burns), a zero-token replay of one of them, memories, a snapshot."""
    from llmos.kernel import Kernel
    from llmos.memory.store import remember
    from llmos.traces import Step, TraceMeta, TraceWriter, new_trace_id, now_iso, read_trace
    from llmos.vault import snapshot

    k = Kernel(root)
    priced = script(
        call("write_file", path="projects/a/x.txt", content="x"),
        call("finish", result="done"),
        model="claude-sonnet-4-6",
    )
    first = k.run("Write x into projects/a/x.txt", model=priced)
    k.run("Write y into projects/a/y.txt", model=script(call("finish", result="nothing to do")))
    src = read_trace(first.trace_path)
    replay = TraceMeta(**{**src.model_dump(), "id": new_trace_id(), "mode": "FOLLOWER", "model": "none", "steps": []})
    replay.tokens.input = replay.tokens.output = 0
    replay.started = now_iso()
    writer = TraceWriter(root, replay)
    writer.add_step(Step(n=1, tool="write_file", args={"path": "projects/a/x.txt"}, result="wrote", ok=True))
    writer.end("success", result="done")
    mem, _ = remember(root, "Deploys use port 8080. <script>alert('x')</script>", tags=["ops"], commit=True)
    snapshot(root, "for the dashboard", k.config.vault)
    tree = git(root, "rev-parse", "HEAD^{tree}").strip()  # a dream branch not merged: waiting for review
    sha = git(root, "commit-tree", tree, "-p", "HEAD", "-m", "llmos dream 2026-12-01: promote 2 workflows").strip()
    git(root, "update-ref", "refs/heads/llmos/dream/2026-12-01", sha)
    return {"run": first.trace_id, "memory": mem.id}


@pytest.fixture()
def served(root: Path, script):
    from llmos.kernel import Kernel
    from llmos.serve.dashboard.app import routes
    from llmos.serve.http import Service, build_app
    from llmos.serve.token import ensure_token

    ids = populated(root, script)
    kernel = Kernel(root)
    token, _ = ensure_token(root)
    app, server = build_app(kernel, token, routes(kernel))
    service = Service(app)
    port = service.start()
    yield f"http://127.0.0.1:{port}", token, ids
    service.stop()
    server.llmos_gate.close()


def fetch(url: str, headers: dict | None = None) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=30) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_pages_need_the_token_and_render_the_files(served):
    url, token, ids = served
    assert fetch(url + "/")[0] == 401 and "serve-token" in fetch(url + "/runs")[1]
    assert fetch(url + "/?token=wrong")[0] == 401
    auth = {"Authorization": f"Bearer {token}"}
    for view in [*VIEWS, f"runs/{ids['run']}", f"memories/{ids['memory']}"]:
        code, text = fetch(f"{url}/{view}", auth)
        assert code == 200, (view, text[:200])
        assert '<script src="https://' not in text
    _, run = fetch(f"{url}/runs/{ids['run']}", auth)
    assert "Trace tree" in run and "claude-sonnet-4-6" in run and "<table" in run
    _, memory = fetch(f"{url}/memories/{ids['memory']}", auth)
    assert "&lt;script&gt;alert" in memory and "<script>alert" not in memory  # Markdown's raw HTML is text
    _, agent = fetch(f"{url}/agents/assistant", auth)
    assert "<td>name</td><td>assistant</td>" in agent and "<p>" in agent  # frontmatter table, body rendered
    _, memory_page = fetch(f"{url}/memory", auth)
    assert "llmos/dream/2026-12-01" in memory_page and "llmos dream --apply" in memory_page
    assert fetch(f"{url}/runs/nope", auth)[0] == 404
    assert fetch(f"{url}/assets/plotly.min.js", auth)[1].startswith("/**")


def test_report_is_one_self_contained_file(root: Path, script, tmp_path: Path):
    ids = populated(root, script)
    out = run_llmos("report", "--html", str(tmp_path / "report.html"), root=root)
    assert out.returncode == 0, out.stderr
    from llmos.serve.dashboard.render import plotly_js

    whole = (tmp_path / "report.html").read_text()
    assert plotly_js() in whole  # inline, from the plotly package
    text = whole.replace(plotly_js(), "")
    assert "<script src=" not in text and 'href="http' not in text and 'href="/' not in text
    assert f'id="runs-{ids["run"]}"' in text and 'id="agents-assistant"' in text and "Plotly.newPlot" in text


def browser():
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver):
        pytest.skip("Debian's chromium and chromium-driver are not installed here (.ci/run installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service as DriverService

    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1000"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=opts, service=DriverService(executable_path=driver))


PLOTTED = """return Array.from(document.querySelectorAll('[data-plot]')).map(function (el) {
  return (el.data || []).reduce(function (n, t) { return n + (t.x || []).length; }, 0); });"""


def check_view(drv, name: str) -> list[int]:
    """No console error, every plot drawn with points, a screenshot; returns the points per plot."""
    errors = [e for e in drv.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == [], (name, errors)
    points = drv.execute_script(PLOTTED)
    assert all(n > 0 for n in points), (name, points)
    assert drv.execute_script("return document.querySelector('main h1').textContent")
    SHOTS.mkdir(parents=True, exist_ok=True)
    drv.save_screenshot(str(SHOTS / f"{name}.png"))
    return points


def test_every_view_in_headless_chromium(served, tmp_path: Path):
    url, token, ids = served
    drv = browser()
    try:
        drv.get(f"{url}/?token={token}")  # signs in: a cookie, then the page without the token
        assert "token=" not in drv.current_url
        plots = {}
        for view in [*VIEWS, f"runs/{ids['run']}", f"memories/{ids['memory']}"]:
            drv.get(f"{url}/{view}")
            name = (view or "overview").replace("/", "-")
            plots[name] = check_view(drv, name)
        assert len(plots["overview"]) == 2 and len(plots["budget"]) == 1 and len(plots["memory"]) == 1
        drv.get(f"{url}/runs")  # the filters hide rows of other agents/outcomes/modes
        shown = (
            "return Array.from(document.querySelectorAll('#runs tbody tr'))"
            ".filter(r => r.style.display != 'none').length"
        )
        total = drv.execute_script(shown)
        drv.execute_script(
            "var s = document.querySelector('select[data-key=mode]');"
            "s.value = 'FOLLOWER'; s.dispatchEvent(new Event('change'));"
        )
        assert drv.execute_script(shown) == 1 < total

        report = tmp_path / "report.html"
        from llmos.kernel import Kernel
        from llmos.serve.dashboard.report import write_report

        write_report(Kernel(Path(os.environ["LLMOS_ROOT"])), report)
        drv.get(report.as_uri())
        check_view(drv, "report")
        remote = drv.execute_script(
            "return performance.getEntriesByType('resource').map(e => e.name)"
            ".filter(n => !n.startsWith('file:') && !n.startsWith('data:'))"
        )
        assert remote == []
    finally:
        drv.quit()
