"""`water iam`: the policy the step pods need, checked by a real IAM policy linter (parliament) and against
AWS's own service data (policy_sentry's copy of the Service Authorization Reference), and against the calls the
steps really make (recorded from botocore while they run against moto)."""
from __future__ import annotations

import fnmatch
import json
import os
import shutil

import pytest

from conftest import JOB_HOOKS, TESTS, example_path, pod_argv, water_job
from sagemakerapi import SageMakerStandIn
from water.cli import cli

SERVING = os.path.join(TESTS, "registry-pipeline", "serving.yaml")
PIPELINES = [SERVING, os.path.join(TESTS, "pod-pipeline", "water.yaml"), example_path("demo")]


def _policy(runner, *args) -> tuple[dict, str]:
    result = runner.invoke(cli, ["iam", *map(str, args)])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout), result.stderr


def _actions(policy: dict) -> set:
    return {a for s in policy["Statement"] for a in s["Action"]}


@pytest.mark.parametrize("path", PIPELINES, ids=lambda p: os.path.basename(os.path.dirname(p)))
def test_the_policy_passes_the_linter_and_names_no_wildcard_action(runner, path):
    from parliament import analyze_policy_string

    policy, _ = _policy(runner, path)
    assert analyze_policy_string(json.dumps(policy)).findings == []
    community = analyze_policy_string(json.dumps(policy), include_community_auditors=True).findings
    # the one thing a stricter auditor says: PassRole is permission management — of one role, to SageMaker only
    assert [(f.issue, f.location["actions"]) for f in community] == [("PERMISSIONS_MANAGEMENT_ACTIONS", ["iam:passrole"])]
    (passing,) = [s for s in policy["Statement"] if s["Action"] == ["iam:PassRole"]]
    assert passing["Resource"] == ["arn:aws:iam::123456789012:role/sm"] or "demo" in path
    assert passing["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
    assert not [a for a in _actions(policy) if "*" in a]
    assert len(json.dumps(policy, separators=(",", ":"))) <= 6144  # an inline or managed policy's limit


@pytest.mark.parametrize("path", PIPELINES, ids=lambda p: os.path.basename(os.path.dirname(p)))
def test_every_resource_wildcard_is_a_listing_or_said_why(runner, path):
    """`*` only for the List actions (their answer is names), the table-data bucket wildcard said on stderr; every
    action AWS says needs another (dependent actions) has it."""
    from policy_sentry.querying.actions import get_action_data

    policy, notes = _policy(runner, path)
    for s in policy["Statement"]:
        for action in s["Action"]:
            service, name = action.split(":")
            (data, *_) = get_action_data(service, name)[service]
            if s["Resource"] == ["*"]:
                assert data["access_level"] == "List", action
            assert set(data["dependent_actions"] or ()) <= _actions(policy), action
        if s["Resource"] == ["arn:aws:s3:::*"]:
            assert "read the tables' data from where the Glue catalog says it lives" in notes


def test_the_arns_name_what_the_spec_names(runner):
    policy, _ = _policy(runner, SERVING)
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert by_sid["TrainJobs"]["Resource"] == ["arn:aws:sagemaker:us-east-1:123456789012:training-job/wines-train-*"]
    assert by_sid["ServeEndpoint"]["Resource"] == [
        "arn:aws:sagemaker:us-east-1:123456789012:endpoint-config/wines-*",
        "arn:aws:sagemaker:us-east-1:123456789012:endpoint/wines",
        "arn:aws:sagemaker:us-east-1:123456789012:model/wines-*"]
    assert by_sid["RegisterVersions"]["Resource"] == ["arn:aws:sagemaker:us-east-1:123456789012:model-package/wines/*"]
    assert by_sid["TrainList"]["Condition"] == {"StringLike": {"s3:prefix": ["models/*"]}}
    other, _ = _policy(runner, SERVING, "--account", "210987654321", "--region", "eu-west-1")
    assert "arn:aws:sagemaker:eu-west-1:210987654321:endpoint/wines" in {
        r for s in other["Statement"] for r in s["Resource"]}


def test_the_calls_the_steps_make_are_allowed(runner, aws_env, moto_endpoint, monkeypatch, tmp_path):
    """Run train's neighbours — register, serve, and a when over the live model — against moto, record every
    request botocore signs (its IAM action and the ARN it names where the request names one), and find each in
    the policy."""
    stand_in = SageMakerStandIn(moto_endpoint)
    monkeypatch.setenv("AWS_ENDPOINT_URL", stand_in.url)
    calls: list = []
    JOB_HOOKS.append(("before-parameter-build", lambda model, params, **_: calls.append(
        (f"{model.service_model.signing_name}:{model.name}", dict(params)))))
    spec = tmp_path / "water.yaml"
    spec.write_text(open(SERVING).read().replace('when: "{{steps.train.metrics.accuracy}} >= 0.9"',
                                                 'when: "{{steps.train.metrics.accuracy}} >= '
                                                 '{{models.wines.live.metrics.accuracy}}"'))
    shutil.copy(os.path.join(TESTS, "registry-pipeline", "train.py"), tmp_path / "train.py")
    trained = {"train": {"model": "s3://lake-results/models/x/output/model.tar.gz", "metrics-accuracy": "0.97"}}
    try:
        assert water_job(pod_argv("register", task="water-when-register", upstream=trained,
                                  pipeline_file=str(spec))) == 0
        assert water_job(pod_argv("register", upstream=trained, pipeline_file=str(spec))) == 0
        version = open(os.path.join(aws_env["WATER_OUTPUTS_DIR"], "output")).read()
        assert water_job(pod_argv("serve", upstream={"register": {"output": version}}, pipeline_file=str(spec)),
                         sleep=lambda s: None) == 0
        assert water_job(pod_argv("register", task="water-when-register", upstream=trained,
                                  pipeline_file=str(spec))) == 0
    finally:
        stand_in.close()
    policy, _ = _policy(runner, spec)
    allowed = [(a, r) for s in policy["Statement"] for a in s["Action"] for r in s["Resource"]]
    assert {a for a, _ in calls} >= {"sagemaker:CreateModelPackage", "sagemaker:CreateEndpoint",
                                     "sagemaker:ListEndpoints", "sagemaker:DescribeModelPackage"}
    for action, params in calls:
        named = _arn_of(action, params)
        assert any(a == action and (named is None or fnmatch.fnmatchcase(named, r.lower()) or r == "*")
                   for a, r in allowed), (action, named)


def _arn_of(action: str, params: dict) -> str | None:
    """The ARN a SageMaker request acts on, where its parameters name it (as IAM evaluates it: lower case)."""
    resource = {"CreateModelPackageGroup": ("model-package-group", "ModelPackageGroupName"),
                "DescribeModelPackageGroup": ("model-package-group", "ModelPackageGroupName"),
                "CreateModel": ("model", "ModelName"), "DescribeModel": ("model", "ModelName"),
                "CreateEndpointConfig": ("endpoint-config", "EndpointConfigName"),
                "DescribeEndpointConfig": ("endpoint-config", "EndpointConfigName"),
                "CreateEndpoint": ("endpoint", "EndpointName"), "DescribeEndpoint": ("endpoint", "EndpointName"),
                "UpdateEndpoint": ("endpoint", "EndpointName")}.get(action.split(":")[1])
    if resource is None:
        return params.get("ModelPackageName", "").lower() or None
    return f"arn:aws:sagemaker:us-east-1:123456789012:{resource[0]}/{params[resource[1]]}".lower()


def test_trust_lets_only_the_pipeline_s_service_account_assume_the_role(runner):
    issuer = "https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B7"
    trust, _ = _policy(runner, SERVING, "--trust", issuer, "-n", "ml")
    (statement,) = trust["Statement"]
    host = issuer.removeprefix("https://")
    assert statement["Principal"] == {"Federated": f"arn:aws:iam::123456789012:oidc-provider/{host}"}
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Condition"] == {"StringEquals": {f"{host}:sub": "system:serviceaccount:ml:water-runner",
                                                       f"{host}:aud": "sts.amazonaws.com"}}
    from parliament import analyze_policy_string

    # parliament lints identity policies, and of federations knows SAML providers and the web identity services
    # only (parliament/statement.py): a trust policy has no Resource, and EKS's OIDC provider is none of those. It
    # finds nothing else.
    findings = analyze_policy_string(json.dumps(trust)).findings
    assert sorted(f.issue for f in findings) == ["MALFORMED", "UNKNOWN_FEDERATION_SOURCE"]
    assert [f.detail for f in findings if f.issue == "MALFORMED"] == ["Statement contains neither Resource nor "
                                                                       "NotResource"]


def test_the_deployer_policy_covers_what_deploy_defines_in_aws(runner):
    """`--deployer`: the Glue job and script of the demo (spec.aws.artifacts), linted like the pods' policy."""
    from parliament import analyze_policy_string

    policy, _ = _policy(runner, example_path("demo"), "--deployer")
    assert analyze_policy_string(json.dumps(policy)).findings == []
    by_action = {a: s for s in policy["Statement"] for a in s["Action"]}
    assert by_action["glue:UpdateJob"]["Resource"] == ["arn:aws:glue:us-east-1:123456789012:job/demo-features"]
    assert by_action["s3:PutObject"]["Resource"] == ["arn:aws:s3:::water-demo/artifacts/glue/*"]
    assert by_action["iam:PassRole"]["Resource"] == ["arn:aws:iam::123456789012:role/water-demo-glue"]
    assert by_action["iam:PassRole"]["Condition"] == {"StringEquals": {"iam:PassedToService": "glue.amazonaws.com"}}
    plain, notes = _policy(runner, example_path("babyweight"), "--deployer")
    assert plain["Statement"] == [] and "deploy needs no AWS access" in notes
