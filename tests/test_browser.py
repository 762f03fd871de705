"""The explorer page in a real browser: headless Chromium, driven over the DevTools protocol.

Chromium is the system package (`apt-get install -y chromium`; .ci/run installs it when it is
missing); without it the test is skipped, saying so. The protocol runs over a pipe
(`--remote-debugging-pipe`: JSON messages separated by NUL bytes on file descriptors 3 and 4),
so no websocket library and no network port are needed. The test opens the page written for
a tiny masked LM, checks that no script error or console error occurred, picks another layer
and head and checks that both drawings change, clicks a token and checks that its guesses
appear, and saves a screenshot beside the test's files (printed for the log).
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import shutil
import subprocess
import time

import pytest
from tiny_models import save_tiny

from tokenizer import load_tokenizer
from train.explain import explain, load_for_explain
from train.explain_page import write_page


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        if path := shutil.which(name):
            return path
    pytest.skip("no Chromium found: install it with `apt-get install -y chromium` "
                "(.ci/run does when it can)")


class DevTools:
    """A minimal Chrome DevTools Protocol client over --remote-debugging-pipe."""

    def __init__(self, binary: str, profile: str):
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def onto_3_and_4():  # in the child: the browser reads fd 3, writes fd 4
            staged = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (to_browser_r, from_browser_w)]
            os.dup2(staged[0], 3)
            os.dup2(staged[1], 4)

        self.proc = subprocess.Popen(
            [binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-extensions", "--remote-debugging-pipe", f"--user-data-dir={profile}",
             "--window-size=1300,900", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            # the test starts no threads, so running Python code in the child is safe
            pass_fds=(3, 4), preexec_fn=onto_3_and_4)  # noqa: PLW1509
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer, self._next_id, self.events = b"", 0, []

    def _read_message(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            if time.monotonic() > deadline:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self._from_browser, 1 << 16)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method: str, session: str | None = None, timeout: float = 20, **params):
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def close(self) -> None:
        try:
            self.call("Browser.close", timeout=5)
        except (RuntimeError, TimeoutError, OSError):
            pass
        self.proc.kill()
        self.proc.wait(timeout=10)
        os.close(self._to_browser)
        os.close(self._from_browser)


def errors_in(events: list[dict]) -> list[str]:
    found = []
    for e in events:
        p = e.get("params", {})
        if e.get("method") == "Runtime.exceptionThrown":
            found.append(json.dumps(p["exceptionDetails"])[:500])
        elif e.get("method") == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            found.append(json.dumps(p.get("args"))[:500])
        elif e.get("method") == "Log.entryAdded" and p["entry"]["level"] == "error":
            found.append(p["entry"]["text"])
    return found


def test_explorer_page_in_headless_chromium(tmp_path):
    binary = chromium()
    folder = save_tiny(tmp_path / "mlm")
    data = explain(load_for_explain(folder), load_tokenizer(folder),
                   "The animal didn't cross the street because it was too tired.")
    page = write_page(data, tmp_path / "page.html")
    browser = DevTools(binary, str(tmp_path / "profile"))
    try:
        target = browser.call("Target.createTarget", url="about:blank")["targetId"]
        session = browser.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            browser.call(f"{domain}.enable", session)
        browser.call("Page.navigate", session, url=page.as_uri())

        def js(expression: str):
            result = browser.call("Runtime.evaluate", session, expression=expression,
                                  returnByValue=True, awaitPromise=True)
            assert "exceptionDetails" not in result, result["exceptionDetails"]
            return result["result"].get("value")

        deadline = time.monotonic() + 20
        while js("document.readyState") != "complete" or not js(
                "document.querySelectorAll('#heatmap rect').length"):
            assert time.monotonic() < deadline, "the page never drew its heatmap"
            time.sleep(0.1)
        T = len(data["tokens"])
        assert js("document.querySelectorAll('.tok').length") == T
        assert js("document.getElementById('layer').options.length") == 2
        assert js("document.getElementById('head').options.length") == 4
        drawing = ("[document.getElementById('heatmap').innerHTML,"
                   " document.getElementById('lines').innerHTML]")
        before = js(drawing)
        js("for (const [id, v] of [['layer', '1'], ['head', '3']]) {"
           " const s = document.getElementById(id); s.value = v;"
           " s.dispatchEvent(new Event('change')); }")
        after = js(drawing)
        assert after[0] != before[0] and after[1] != before[1], "the drawing did not change"
        assert js("document.querySelectorAll('.prediction').length") == 0
        street = data["tokens"].index("street")
        js(f"document.querySelectorAll('.tok')[{street}].click()")
        shown = js("[...document.querySelectorAll('.prediction td:first-child')]"
                   ".map(td => JSON.parse(td.textContent))")
        assert shown == [t for t, _ in data["predictions"][street]]
        assert js("document.querySelectorAll('#lines line').length") <= T  # one token's lines
        shot = tmp_path / "explorer.png"
        shot.write_bytes(base64.b64decode(browser.call("Page.captureScreenshot", session)["data"]))
        print("screenshot:", shot)
        assert shot.stat().st_size > 10_000
        assert errors_in(browser.events) == []
    finally:
        browser.close()
