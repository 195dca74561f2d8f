"""SageMaker's endpoint life as moto does not have it: a recording HTTP proxy in front of moto's server. moto 5
creates endpoints InService at once and has no UpdateEndpoint (moto/sagemaker/responses.py implements
CreateEndpoint, DescribeEndpoint and DeleteEndpoint only); SageMaker keeps a new endpoint Creating and an updated
one Updating (with a PendingDeploymentSummary naming the config it goes to) for minutes, then InService — or, when
an update is rolled back, InService again with the old config (DescribeEndpoint's documentation, botocore's
sagemaker/2017-07-24/service-2.json). Everything else is moto's answer, passed through byte for byte; every request
body botocore sends is recorded."""
from __future__ import annotations

import http.client
import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TARGET = "X-Amz-Target"  # SageMaker speaks awsJson1_1: the operation is named by this header


class SageMakerStandIn:
    """`url` for AWS_ENDPOINT_URL; `sent`: (operation, body) of every SageMaker request; `busy_polls`: how many
    DescribeEndpoint answers a create or update stays in progress for; `rollback`: whether SageMaker rolls the next
    update back (an alarm fired while it baked)."""

    def __init__(self, moto_url: str) -> None:
        self.moto = urllib.parse.urlsplit(moto_url)
        self.sent: list = []
        self.busy_polls = 2
        self.rollback = False
        self.pending: dict = {}  # endpoint → {"status", "config", "polls", "rollback"}
        self.deployments: dict = {}  # endpoint → the DeploymentConfig of its last update (LastDeploymentConfig)
        self.lock = threading.Lock()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                operation = (self.headers.get(TARGET) or "").rpartition(".")[2]
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

    # --- what SageMaker does that moto does not ---------------------------------------------------------------

    def handle(self, operation: str, method: str, path: str, headers: dict, body: bytes) -> tuple[int, list, bytes]:
        if operation and body:
            self.sent.append((operation, json.loads(body)))
        if operation == "UpdateEndpoint":
            return self._update(json.loads(body))
        if operation == "DescribeEndpoint":
            return self._describe(path, headers, body)
        answer = self._forward(path, headers, body, method)
        if operation == "CreateEndpoint" and answer[0] == 200:
            with self.lock:
                self.pending[json.loads(body)["EndpointName"]] = {"status": "Creating", "polls": self.busy_polls}
        return answer

    def _update(self, request: dict) -> tuple[int, list, bytes]:
        name, config = request["EndpointName"], request["EndpointConfigName"]
        found = self._moto_call("DescribeEndpoint", {"EndpointName": name})
        if "EndpointStatus" not in found:
            return _error(f'Could not find endpoint "{name}".')
        if "EndpointConfigName" not in self._moto_call("DescribeEndpointConfig", {"EndpointConfigName": config}):
            return _error(f'Could not find endpoint configuration "{config}".')
        with self.lock:
            if name in self.pending:  # SageMaker's answer to an update of an endpoint at work
                return _error(f'Cannot update in-progress endpoint "{found["EndpointArn"]}".')
            self.pending[name] = {"status": "Updating", "config": config, "polls": self.busy_polls,
                                  "rollback": self.rollback}
            self.rollback = False
            if "DeploymentConfig" in request:
                self.deployments[name] = request["DeploymentConfig"]
        return 200, [("Content-Type", "application/x-amz-json-1.1")], json.dumps(
            {"EndpointArn": found["EndpointArn"]}).encode()

    def _describe(self, path: str, headers: dict, body: bytes) -> tuple[int, list, bytes]:
        name = json.loads(body)["EndpointName"]
        with self.lock:
            state = self.pending.get(name)
            if state and state["polls"] <= 0:
                del self.pending[name]
                self._finish(name, state)
                state = None
            elif state:
                state["polls"] -= 1
        status, response_headers, answer = self._forward(path, headers, body)
        if status != 200 or (state is None and name not in self.deployments):
            return status, response_headers, answer
        described = json.loads(answer)
        if name in self.deployments:
            described["LastDeploymentConfig"] = self.deployments[name]
        if state is None:
            return status, response_headers, json.dumps(described).encode()
        described["EndpointStatus"] = state["status"]
        if state.get("config"):
            described["PendingDeploymentSummary"] = {"EndpointConfigName": state["config"]}
        return status, response_headers, json.dumps(described).encode()

    def _finish(self, name: str, state: dict) -> None:
        """An update ends: the endpoint serves the new config (moto's endpoint made again with it), or, rolled
        back, still the old one."""
        if state["status"] != "Updating" or state["rollback"]:
            return
        tags = self._moto_call("ListTags", {"ResourceArn": self._moto_call(
            "DescribeEndpoint", {"EndpointName": name})["EndpointArn"]}).get("Tags", [])
        self._moto_call("DeleteEndpoint", {"EndpointName": name})
        self._moto_call("CreateEndpoint", {"EndpointName": name, "EndpointConfigName": state["config"],
                                           "Tags": tags})

    # --- moto ---------------------------------------------------------------------------------------------------

    def _forward(self, path: str, headers: dict, body: bytes, method: str = "POST") -> tuple[int, list, bytes]:
        connection = http.client.HTTPConnection(self.moto.hostname, self.moto.port, timeout=30)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            connection.close()

    def _moto_call(self, operation: str, request: dict) -> dict:
        status, _, answer = self._forward("/", {TARGET: f"SageMaker.{operation}", "Content-Type":
                                                "application/x-amz-json-1.1", "Authorization":
                                                "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/sagemaker/"
                                                "aws4_request, SignedHeaders=host, Signature=x"},
                                          json.dumps(request).encode())
        return json.loads(answer or b"{}")


def _error(message: str) -> tuple[int, list, bytes]:
    """SageMaker's refusal, as awsJson1_1 carries it."""
    return 400, [("Content-Type", "application/x-amz-json-1.1")], json.dumps(
        {"__type": "ValidationException", "message": message}).encode()
