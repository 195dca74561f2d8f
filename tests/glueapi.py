"""Glue's UpdateJob as moto does not have it (moto/glue/responses.py has CreateJob, GetJob and DeleteJob, no
UpdateJob): a recording proxy in front of moto's server that implements it with Glue's documented semantics,
"the previous job definition is completely overwritten by this information" (botocore's
data/glue/2017-03-31/service-2.json, UpdateJob and JobUpdate) — moto's job deleted and created again from the
JobUpdate, its tags kept — and answers `{"JobName": ...}` as UpdateJobResponse. Everything else is moto's."""
from __future__ import annotations

import json

from standin import StandIn, answer, refusal


class GlueStandIn(StandIn):
    target, signing_name = "AWSGlue", "glue"

    def handle(self, operation: str, method: str, path: str, headers: dict, body: bytes) -> tuple[int, list, bytes]:
        if operation == "UpdateJob":
            return self._update(json.loads(body))
        return super().handle(operation, method, path, headers, body)

    def _update(self, request: dict) -> tuple[int, list, bytes]:
        name = request["JobName"]
        if "Job" not in self._moto_call("GetJob", {"JobName": name}):
            return refusal("EntityNotFoundException", f"Job {name} not found.")
        arn = f"arn:aws:glue:us-east-1:123456789012:job/{name}"  # moto's account and the tests' region
        tags = self._moto_call("GetTags", {"ResourceArn": arn}).get("Tags") or {}
        with self.lock:
            self._moto_call("DeleteJob", {"JobName": name})
            self._moto_call("CreateJob", {"Name": name, **request["JobUpdate"], "Tags": tags})
        return answer({"JobName": name})

    def job(self, name: str) -> dict:
        """The job as GetJob answers, for what a test checks."""
        return self._moto_call("GetJob", {"JobName": name})["Job"]
