"""SageMaker's endpoint life as moto does not have it: a recording HTTP proxy in front of moto's server. moto 5
creates endpoints InService at once and has no UpdateEndpoint (moto/sagemaker/responses.py implements
CreateEndpoint, DescribeEndpoint and DeleteEndpoint only); SageMaker keeps a new endpoint Creating and an updated
one Updating (with a PendingDeploymentSummary naming the config it goes to) for minutes, then InService — or, when
an update is rolled back, InService again with the old config (DescribeEndpoint's documentation, botocore's
sagemaker/2017-07-24/service-2.json). Everything else is moto's answer, passed through byte for byte; every request
body botocore sends is recorded."""
from __future__ import annotations

import json

from standin import StandIn, answer, refusal


class SageMakerStandIn(StandIn):
    """`busy_polls`: how many DescribeEndpoint answers a create or update stays in progress for; `rollback`: whether
    SageMaker rolls the next update back (an alarm fired while it baked)."""

    target, signing_name = "SageMaker", "sagemaker"

    def __init__(self, moto_url: str) -> None:
        super().__init__(moto_url)
        self.busy_polls = 2
        self.rollback = False
        self.pending: dict = {}  # endpoint → {"status", "config", "polls", "rollback"}
        self.deployments: dict = {}  # endpoint → the DeploymentConfig of its last update (LastDeploymentConfig)

    # --- what SageMaker does that moto does not ---------------------------------------------------------------

    def handle(self, operation: str, method: str, path: str, headers: dict, body: bytes) -> tuple[int, list, bytes]:
        if operation == "UpdateEndpoint":
            return self._update(json.loads(body))
        if operation == "DescribeEndpoint":
            return self._describe(path, headers, body)
        forwarded = self._forward(path, headers, body, method)
        if operation == "CreateEndpoint" and forwarded[0] == 200:
            with self.lock:
                self.pending[json.loads(body)["EndpointName"]] = {"status": "Creating", "polls": self.busy_polls}
        return forwarded

    def _update(self, request: dict) -> tuple[int, list, bytes]:
        name, config = request["EndpointName"], request["EndpointConfigName"]
        found = self._moto_call("DescribeEndpoint", {"EndpointName": name})
        if "EndpointStatus" not in found:
            return _refused(f'Could not find endpoint "{name}".')
        if "EndpointConfigName" not in self._moto_call("DescribeEndpointConfig", {"EndpointConfigName": config}):
            return _refused(f'Could not find endpoint configuration "{config}".')
        with self.lock:
            if name in self.pending:  # SageMaker's answer to an update of an endpoint at work
                return _refused(f'Cannot update in-progress endpoint "{found["EndpointArn"]}".')
            self.pending[name] = {"status": "Updating", "config": config, "polls": self.busy_polls,
                                  "rollback": self.rollback}
            self.rollback = False
            if "DeploymentConfig" in request:
                self.deployments[name] = request["DeploymentConfig"]
        return answer({"EndpointArn": found["EndpointArn"]})

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
        status, response_headers, described_bytes = self._forward(path, headers, body)
        if status != 200 or (state is None and name not in self.deployments):
            return status, response_headers, described_bytes
        described = json.loads(described_bytes)
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


def _refused(message: str) -> tuple[int, list, bytes]:
    return refusal("ValidationException", message)
