"""A local Datadog monitor API for tests: the `datadog` package talks HTTP to it as to api.datadoghq.com. It keeps
monitors as the v1 API does (ids, `monitor_tags` filtering with every tag required, server-added option defaults,
{"errors": [...]} on bad requests and unknown ids), checks the key headers, records every request's raw bytes and
can answer injected failures."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

API_KEY, APP_KEY = "test-api-key", "test-app-key"
REQUIRED = ("name", "type", "query")
SERVER_OPTIONS = {"notify_no_data": False, "new_group_delay": 60, "notify_audit": False}  # Datadog's own defaults


class DatadogApi:
    def __init__(self):
        self.monitors: dict = {}  # id → monitor
        self.requests: list = []  # (method, path with query, headers, body bytes)
        self.faults: list = []  # [status, method, body, times]
        self.hang = False  # True: requests get no answer (until the test ends)
        self._release = threading.Event()
        self._next_id = 1000
        self._lock = threading.Lock()
        handler = type("Handler", (_Handler,), {"api": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self._release.set()
        self.server.shutdown()
        self.server.server_close()

    def inject(self, status: int, method: str | None = None, body=None, times: int = 1):
        self.faults.append([status, method, body if body is not None else {"errors": ["injected"]}, times])

    def add(self, monitor: dict) -> dict:
        """A monitor made outside water (e.g. in the UI)."""
        with self._lock:
            return self._store(monitor)

    def _store(self, body: dict, monitor_id: int | None = None) -> dict:
        if monitor_id is None:
            monitor_id, self._next_id = self._next_id, self._next_id + 1
        stored = {**body, "id": monitor_id, "options": {**SERVER_OPTIONS, **body.get("options", {})},
                  "overall_state": "No Data"}
        self.monitors[monitor_id] = stored
        return stored

    def answer(self, method: str, path: str, body: dict | None) -> tuple:
        with self._lock:
            for fault in self.faults:
                if fault[1] in (None, method):
                    fault[3] -= 1
                    if not fault[3]:
                        self.faults.remove(fault)
                    return fault[0], fault[2]
            url = urlparse(path)
            parts = url.path.rstrip("/").split("/")  # '', api, v1, monitor[, id]
            if parts[:4] != ["", "api", "v1", "monitor"]:
                return 404, {"errors": ["Not found"]}
            if len(parts) == 4 and method == "GET":
                wanted = set(",".join(parse_qs(url.query).get("monitor_tags", [])).split(",")) - {""}
                return 200, [m for _, m in sorted(self.monitors.items()) if wanted <= set(m.get("tags", []))]
            if len(parts) == 4 and method == "POST":
                missing = [k for k in REQUIRED if not body.get(k)]
                if missing:
                    return 400, {"errors": [f"The value provided for parameter '{missing[0]}' is invalid"]}
                return 200, self._store(body)
            monitor_id = int(parts[4]) if len(parts) == 5 and parts[4].isdigit() else None
            if monitor_id not in self.monitors:
                return 404, {"errors": ["Monitor not found"]}
            if method == "GET":
                return 200, self.monitors[monitor_id]
            if method == "PUT":
                return 200, self._store({**self.monitors[monitor_id], **body}, monitor_id)
            if method == "DELETE":
                del self.monitors[monitor_id]
                return 200, {"deleted_monitor_id": monitor_id}
            return 405, {"errors": ["Method not allowed"]}


class _Handler(BaseHTTPRequestHandler):
    api: DatadogApi

    def _serve(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.api.requests.append((self.command, self.path, dict(self.headers), raw))
        if self.api.hang:
            self.api._release.wait(30)
            return
        if self.headers.get("DD-API-KEY") != API_KEY or self.headers.get("DD-APPLICATION-KEY") != APP_KEY:
            status, answer = 403, {"errors": ["Forbidden"]}
        else:
            status, answer = self.api.answer(self.command, self.path, json.loads(raw) if raw else None)
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = _serve

    def log_message(self, *args):
        pass
