"""Open a local page in headless Chromium and report what a reader would see.

`open_page(path, screenshot)` starts Debian's `chromium` headless with a
throw-away profile and no network services, drives it through the Chrome
DevTools protocol (`--remote-debugging-port`, a `websocket-client`
connection), loads the page, waits for its load event, and returns what
the page holds (images and whether each decoded, plotly charts drawn),
every console error and uncaught exception, and every request to a
non-local address; it saves a PNG screenshot. `missing()` says why it
cannot run here, or None.
"""

import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync",
         "--remote-debugging-port=0", "--window-size=1200,1600"]
# Runs in the page after its load event.
PROBE = """(async () => {
  await new Promise(done => setTimeout(done, 500));
  const images = [...document.images];
  const lines = [...document.querySelectorAll(
      '.js-plotly-plot .scatterlayer .js-line')];
  return JSON.stringify({
    title: document.title,
    images: images.map(i => ({alt: i.alt, width: i.naturalWidth,
                              complete: i.complete})),
    charts: document.querySelectorAll('.js-plotly-plot .main-svg').length,
    line_lengths: lines.map(l => (l.getAttribute('d') || '').length),
    text: document.body.innerText});
})()"""


def browser():
    """The Chromium executable, or None."""
    for name in ("chromium", "chromium-browser"):
        if shutil.which(name):
            return shutil.which(name)
    return None


def missing():
    """Why the browser test cannot run here, or None."""
    if browser() is None:
        return ("no chromium on PATH (.ci/run installs Debian's chromium "
                "package as root; apt-get install -y chromium)")
    try:
        import websocket  # noqa: F401
    except ImportError:
        return "websocket-client is not installed (pip install -e .[test])"
    return None


class _Session:
    """One DevTools websocket: commands with ids, events collected."""

    def __init__(self, url, timeout):
        import websocket
        self.socket = websocket.create_connection(
            url, timeout=timeout, suppress_origin=True)
        self.events, self.next_id = [], 0

    def call(self, method, **params):
        self.next_id += 1
        self.socket.send(json.dumps(
            {"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def wait_for(self, method, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if any(e.get("method") == method for e in self.events):
                return
            self.events.append(json.loads(self.socket.recv()))
        raise TimeoutError(f"no {method} within {timeout} s")


def _port(profile, process, timeout):
    path = os.path.join(profile, "DevToolsActivePort")
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"chromium exited with {process.returncode}")
        if os.path.exists(path):
            with open(path) as handle:
                first = handle.readline().strip()
            if first:
                return int(first)
        time.sleep(0.05)
    raise TimeoutError("chromium did not open its DevTools port")


def open_page(path, screenshot, timeout=60):
    """Loads `path` in headless Chromium; see the module docstring.

    Returns:
        `{"title", "images": [{alt, width, complete}], "charts",
        "line_lengths", "text", "errors": [str], "remote": [url]}`.
    """
    profile = tempfile.mkdtemp(prefix="kerasae-chromium-")
    process = subprocess.Popen(
        [browser(), *FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port = _port(profile, process, timeout)
        with urllib.request.urlopen(
                f"http://127.0.0.1:{port}/json/list", timeout=timeout) as r:
            page = next(t for t in json.load(r) if t["type"] == "page")
        session = _Session(page["webSocketDebuggerUrl"], timeout)
        for domain in ("Page", "Runtime", "Log", "Network"):
            session.call(f"{domain}.enable")
        session.call("Page.navigate",
                     url="file://" + os.path.abspath(path))
        session.wait_for("Page.loadEventFired", timeout)
        found = json.loads(session.call(
            "Runtime.evaluate", expression=PROBE, awaitPromise=True,
            returnByValue=True)["result"]["value"])
        shot = session.call("Page.captureScreenshot", format="png")
        import base64
        with open(screenshot, "wb") as handle:
            handle.write(base64.b64decode(shot["data"]))
        found["errors"], found["remote"] = _problems(session.events)
        session.socket.close()
        return found
    finally:
        process.kill()
        process.wait()
        shutil.rmtree(profile, ignore_errors=True)


def _problems(events):
    """Console errors and exceptions; requests leaving the machine."""
    errors, remote = [], []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in (
                "error", "assert"):
            errors.append(" ".join(str(a.get("value", a.get("description")))
                                   for a in params.get("args", [])))
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            errors.append(details.get("exception", {}).get(
                "description", details.get("text", "exception")))
        elif method == "Log.entryAdded" and params.get("entry", {}).get(
                "level") == "error":
            errors.append(params["entry"].get("text", ""))
        elif method == "Network.requestWillBeSent":
            url = params.get("request", {}).get("url", "")
            if not url.startswith(("data:", "file:", "about:", "blob:")):
                remote.append(url)
    return errors, remote
