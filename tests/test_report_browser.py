"""The rendered leaderboard in headless Chromium: no console errors, no network
requests, sorting and filtering work.

Chromium is driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``:
NUL-separated JSON on file descriptors 3 and 4), so no Python browser package is
needed.  Without a ``chromium`` binary the tests skip.  Set
``BENCHSUITE_REPORT_SCREENSHOT=/path.png`` to keep a screenshot of the page.
"""
from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from benchsuite.reporting import render_report
from builders_results import build_standard_store, standard_baselines

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-extensions", "--disable-default-apps", "--mute-audio", "--hide-scrollbars")
TIMEOUT = 90.0  # seconds per protocol reply; the test machine is shared and slow


def _chromium() -> str | None:
    override = os.environ.get("BENCHSUITE_CHROMIUM")
    if override:
        return override
    return next((path for path in map(shutil.which, CHROMIUM_NAMES) if path), None)


class Browser:
    """A headless Chromium and one page, spoken to over the DevTools pipe."""

    def __init__(self, executable: str, profile_dir: Path):
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def wire_pipes() -> None:  # runs in the child: the protocol pipe lives on fds 3 and 4
            read_end = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD, 10)
            write_end = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD, 10)
            os.dup2(read_end, 3)
            os.dup2(write_end, 4)

        self.process = subprocess.Popen(
            [executable, *CHROMIUM_FLAGS, f"--user-data-dir={profile_dir}", "--remote-debugging-pipe",
             "about:blank"],
            preexec_fn=wire_pipes, close_fds=False, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []
        self.session: str | None = None

    def call(self, method: str, params: dict | None = None, *, page: bool = True) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if page and self.session:
            message["sessionId"] = self.session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._receive(TIMEOUT)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for_event(self, method: str, timeout: float = TIMEOUT) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        for event in self.events:
            if event.get("method") == method:
                return event
        while True:
            event = self._receive(max(deadline - time.monotonic(), 0.01))
            self.events.append(event)
            if event.get("method") == method:
                return event

    def _receive(self, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while b"\0" not in self._buffer:
            remaining = deadline - time.monotonic()
            readable, _, _ = select.select([self._from_browser], [], [], max(remaining, 0))
            if not readable:
                raise TimeoutError(f"no DevTools message from Chromium within {timeout:.0f} s")
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def open_page(self) -> None:
        target = self.call("Target.createTarget", {"url": "about:blank"}, page=False)
        attached = self.call("Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}, page=False)
        self.session = attached["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable")
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": 1400, "height": 1000, "deviceScaleFactor": 1, "mobile": False})

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": True})
        if "exceptionDetails" in result:
            raise RuntimeError(f"page script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def click(self, x: float, y: float) -> None:
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1})

    def close(self) -> None:
        try:
            self.call("Browser.close", page=False)
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._to_browser)
        os.close(self._from_browser)


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory):
    executable = _chromium()
    if executable is None:
        pytest.skip("headless Chromium not installed (Debian: apt-get install -y chromium); "
                    "set BENCHSUITE_CHROMIUM to another binary")
    root = tmp_path_factory.mktemp("browser")
    build_standard_store(root / "runs")
    html = render_report(root / "runs", root / "report", ["html"], baselines=standard_baselines(),
                         command="benchsuite report --runs runs")["html"]
    browser = Browser(executable, root / "profile")
    try:
        browser.open_page()
        browser.call("Page.navigate", {"url": html.as_uri()})
        browser.wait_for_event("Page.loadEventFired")
        yield browser, html
    finally:
        browser.close()


def _problems(browser: Browser, page_url: str) -> tuple[list[str], list[str]]:
    errors, requests = [], []
    for event in browser.events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.exceptionThrown":
            errors.append(json.dumps(params["exceptionDetails"])[:300])
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert", "warning"):
            errors.append(" ".join(str(a.get("value", a.get("description"))) for a in params.get("args", [])))
        elif method == "Log.entryAdded" and params["entry"].get("level") in ("error", "warning"):
            errors.append(params["entry"].get("text", ""))
        elif method == "Network.requestWillBeSent":
            url = params["request"]["url"]
            if url != page_url and not url.startswith("data:"):
                requests.append(url)
    return errors, requests


def test_page_loads_cleanly_offline(page) -> None:
    browser, html = page
    # let late work (favicon lookups, deferred loads) surface before judging
    browser.evaluate("new Promise(done => setTimeout(done, 500))")
    errors, requests = _problems(browser, html.as_uri())
    assert errors == []
    assert requests == []
    assert browser.evaluate("document.querySelectorAll('table.leaderboard').length") >= 6
    assert browser.evaluate("document.querySelectorAll('svg.det').length") >= 5


ROWS_JS = """Array.from(document.querySelector('table.leaderboard[data-dataset="asvspoof2019-la"][data-split="eval"]')
  .tBodies[0].rows).map(r => [r.dataset.model, r.dataset.profile,
  Array.from(r.cells).find(c => c.dataset.key === '{key}').dataset.sortValue])"""

HEADER_JS = """(() => {{ const th = document.querySelector(
  'table.leaderboard[data-dataset="asvspoof2019-la"][data-split="eval"] th[data-sort-key="{key}"]');
  th.scrollIntoView({{block: 'center'}}); const r = th.getBoundingClientRect();
  return [r.left + r.width / 2, r.top + r.height / 2]; }})()"""


def _click_header(browser: Browser, key: str) -> None:
    x, y = browser.evaluate(HEADER_JS.format(key=key))
    browser.click(x, y)


def test_clicking_a_header_sorts_the_rows(page) -> None:
    browser, _ = page
    before = browser.evaluate(ROWS_JS.format(key="params"))
    _click_header(browser, "params")
    by_params = browser.evaluate(ROWS_JS.format(key="params"))
    assert [float(v) for _, _, v in by_params] == sorted(float(v) for _, _, v in before)
    assert sorted(map(tuple, by_params)) == sorted(map(tuple, before))  # the same rows ...
    assert [r[:2] for r in by_params] != [r[:2] for r in before]  # ... in another order

    _click_header(browser, "eer.mean")
    ascending = [float(v) for _, _, v in browser.evaluate(ROWS_JS.format(key="eer.mean"))]
    assert ascending == sorted(ascending)
    _click_header(browser, "eer.mean")  # a second click reverses
    descending = [float(v) for _, _, v in browser.evaluate(ROWS_JS.format(key="eer.mean"))]
    assert descending == sorted(ascending, reverse=True)
    assert browser.evaluate("""document.querySelector('table.leaderboard[data-dataset="asvspoof2019-la"]'
        + '[data-split="eval"] th[data-sort-key="eer.mean"]').getAttribute('aria-sort')""") == "descending"

    _click_header(browser, "system")
    names = [m for m, _, _ in browser.evaluate(ROWS_JS.format(key="system"))]
    assert names == sorted(names)


def test_filter_box_hides_rows(page) -> None:
    browser, _ = page
    browser.evaluate("""(() => { const box = document.getElementById('filter'); box.value = 'rawgat';
        box.dispatchEvent(new Event('input')); })()""")
    visible = browser.evaluate("""Array.from(document.querySelectorAll('table.leaderboard tbody tr'))
        .filter(r => !r.hidden).map(r => r.dataset.model)""")
    assert visible and set(visible) == {"rawgat-st"}
    browser.evaluate("""(() => { const box = document.getElementById('filter'); box.value = '';
        box.dispatchEvent(new Event('input')); })()""")
    assert browser.evaluate("document.querySelectorAll('[data-filter][hidden]').length") == 0

    target = os.environ.get("BENCHSUITE_REPORT_SCREENSHOT")
    if target:
        browser.evaluate("window.scrollTo(0, 0)")
        shot = browser.call("Page.captureScreenshot", {"format": "png"})
        Path(target).write_bytes(base64.b64decode(shot["data"]))
    errors, _ = _problems(browser, "")
    assert errors == []
