"""A recording HTTP proxy in front of moto's server, for what moto does not do as AWS does: a subclass answers the
operations it knows (`handle`), everything else is moto's answer passed through byte for byte, and every JSON
request body botocore sends is recorded."""
from __future__ import annotations

import http.client
import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TARGET = "X-Amz-Target"  # awsJson1_1 services (SageMaker, Glue) name the operation by this header


class StandIn:
    """`url` for AWS_ENDPOINT_URL; `sent`: (operation, body) of every JSON request. `service`: the X-Amz-Target
    prefix and signing name of the service whose operations `_moto_call` makes."""

    target, signing_name = "", ""

    def __init__(self, moto_url: str) -> None:
        self.moto = urllib.parse.urlsplit(moto_url)
        self.sent: list = []
        self.lock = threading.Lock()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                operation = (self.headers.get(TARGET) or "").rpartition(".")[2]
                if operation and body:
                    stand_in.sent.append((operation, json.loads(body)))
                status, headers, answer = stand_in.handle(operation, self.command, self.path, dict(self.headers),
                                                          body)
                self.send_response(status)
                for name, value in headers:
                    if name.lower() not in ("content-length", "transfer-encoding", "connection", "server", "date"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            do_GET = do_PUT = do_DELETE = do_HEAD = do_POST  # S3 and the rest: passed through

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def bodies(self, operation: str) -> list:
        return [body for op, body in self.sent if op == operation]

    def handle(self, operation: str, method: str, path: str, headers: dict, body: bytes) -> tuple[int, list, bytes]:
        return self._forward(path, headers, body, method)

    def _forward(self, path: str, headers: dict, body: bytes, method: str = "POST") -> tuple[int, list, bytes]:
        connection = http.client.HTTPConnection(self.moto.hostname, self.moto.port, timeout=30)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            connection.close()

    def _moto_call(self, operation: str, request: dict) -> dict:
        status, _, answer = self._forward("/", {TARGET: f"{self.target}.{operation}", "Content-Type":
                                                "application/x-amz-json-1.1", "Authorization":
                                                "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/"
                                                f"{self.signing_name}/aws4_request, SignedHeaders=host, Signature=x"},
                                          json.dumps(request).encode())
        return json.loads(answer or b"{}")


def answer(body: dict) -> tuple[int, list, bytes]:
    return 200, [("Content-Type", "application/x-amz-json-1.1")], json.dumps(body).encode()


def refusal(kind: str, message: str) -> tuple[int, list, bytes]:
    """An awsJson1_1 service's refusal, as it carries it."""
    return 400, [("Content-Type", "application/x-amz-json-1.1")], json.dumps(
        {"__type": kind, "message": message}).encode()
