"""`water iam`: the least-privilege IAM policy a pipeline's step pods need (the role of the ServiceAccount they run
as, through IRSA), built by each step's kind from the spec; and that role's IRSA trust policy."""
from __future__ import annotations

import re

from water import conditions, expressions, permissions
from water.pipeline import Pipeline

POLICY_VERSION = "2012-10-17"
ROLE_ACCOUNT = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):role/")


def policy(pipeline: Pipeline, account: str | None = None, region: str | None = None) -> tuple[dict, list]:
    """(the policy document, what the reader should know about it: where a wildcard could not be avoided, and
    why)."""
    scope = _scope(pipeline, account, region)
    statements = [s for step in pipeline.steps for s in step.kind.permissions(step, scope)]
    statements += _live_models(pipeline, scope) + _lineage(pipeline, scope)
    return {"Version": POLICY_VERSION, "Statement": permissions.merged(statements)}, scope.notes


def events_policy(pipeline: Pipeline, account: str | None = None, region: str | None = None) -> tuple[dict, list]:
    """The policy of the `water-events` ServiceAccount's role: its EventSource reads each trigger's queue (argo-events
    eventsources/sources/awssqs/start.go: GetQueueUrl by name, ReceiveMessage, DeleteMessage once dispatched)."""
    scope = _scope(pipeline, account, region)
    if not pipeline.spec.triggers:
        scope.note("the pipeline has no spec.triggers: its EventSource reads nothing")
    queues = [permissions.Scope(t.s3.region or scope.region, scope.account, scope.pipeline).arn("sqs", t.s3.queue)
              for t in pipeline.spec.triggers]
    statements = [permissions.statement("ReadTriggerQueues", ["sqs:GetQueueUrl", "sqs:ReceiveMessage",
                                                              "sqs:DeleteMessage"], queues)] if queues else []
    return {"Version": POLICY_VERSION, "Statement": statements}, scope.notes


def _scope(pipeline: Pipeline, account: str | None, region: str | None) -> permissions.Scope:
    aws = pipeline.spec.aws
    role = aws.sagemaker_role if aws else None
    found = ROLE_ACCOUNT.match(role or "")
    scope = permissions.Scope(region or (aws.region if aws else None) or "*",
                              account or (found[1] if found else permissions.ANY_ACCOUNT), pipeline.name, role,
                              artifacts=aws.artifacts if aws else None)
    if scope.region == "*":
        scope.note("no region (spec.aws.region or --region): the ARNs name every region")
    if scope.account == permissions.ANY_ACCOUNT:
        scope.note("no account (the SageMaker role's, or --account): the ARNs name every account")
    return scope


def _live_models(pipeline: Pipeline, scope: permissions.Scope) -> list:
    """A water-when task reading `{{models.GROUP.live...}}` looks at every endpoint of the region (any may serve
    the group: SageMaker has no lookup by model package), then reads the group's versions."""
    groups = sorted({r.name for step in pipeline.steps if step.when is not None for r in conditions.refs(step.when)
                     if r.root == "models"})
    if not groups:
        return []
    scope.note("a when: reading {{models.GROUP.live...}} describes every endpoint, endpoint config and model of "
               "the region (any of them may serve the group)")
    return [permissions.statement("LiveModelEndpoints", ["sagemaker:DescribeEndpoint",
                                                         "sagemaker:DescribeEndpointConfig", "sagemaker:DescribeModel"],
                                  [scope.arn("sagemaker", f"{t}/*") for t in ("endpoint", "endpoint-config", "model")]),
            permissions.statement("LiveModelVersions", ["sagemaker:DescribeModelPackage"],
                                  [scope.arn("sagemaker", f"model-package/{g.lower()}/*") for g in groups]),
            permissions.statement("LiveModelList", ["sagemaker:ListEndpoints", "sagemaker:ListModelPackages"], ["*"])]


def deployer_policy(pipeline: Pipeline, account: str | None = None, region: str | None = None) -> tuple[dict, list]:
    """The policy of whoever runs `water deploy` (a CI role), for what the deploy defines in AWS (Glue jobs from
    spec.aws.artifacts); its cluster side is Kubernetes RBAC, not IAM."""
    from water import render
    from water.steps import KINDS

    scope = _scope(pipeline, account, region)
    found = render.defined_in_aws(pipeline)
    if not found:
        scope.note("the pipeline defines nothing in AWS (no spec.aws.artifacts with a glue script): deploy needs "
                   "no AWS access")
    statements = [s for d in found for s in KINDS[d["kind"]].deploy_permissions(d, scope)]
    return {"Version": POLICY_VERSION, "Statement": permissions.merged(statements)}, scope.notes


def _lineage(pipeline: Pipeline, scope: permissions.Scope) -> list:
    """With spec.aws.artifacts every step writes its lineage record under `<artifacts>lineage/<pipeline>/`, after
    listing the data it read (an input that is an upstream step's output: under that step's `output`)."""
    from water.runtime.lineage import FOLDER
    from water.spec.fields import as_data

    artifacts = pipeline.spec.aws.artifacts if pipeline.spec.aws else None
    if not artifacts:
        return []
    by_name = {step.name: step for step in pipeline.steps}

    def prefix(uri: str) -> str:  # a text starting `{{steps.X....}}` is under X's output
        found = expressions.refs_at(uri)
        ref = found[0][0] if found and found[0][1] == 0 and found[0][0].root == "steps" else None
        output = getattr(by_name[ref.name].config, "output", None) if ref and ref.name in by_name else None
        return output or uri

    statements = [permissions.statement("LineageRecords", ["s3:PutObject"], [
        f"arn:{scope.partition}:s3:::{artifacts[len('s3://'):]}{FOLDER}{pipeline.name}/*"])]
    for step in pipeline.steps:
        read = [prefix(uri) for uri in step.kind.inputs(as_data(step.config), lambda text: text)]
        statements += permissions.s3_access(scope, permissions.sid(step.name, "Inputs"), read)
    return statements


def trust(oidc_provider: str, account: str, namespace: str, service_account: str) -> dict:
    """The role's trust policy for IRSA: only the pipeline's ServiceAccount, through the cluster's OIDC provider
    (its ARN, or its issuer URL such as https://oidc.eks.REGION.amazonaws.com/id/ID), for STS."""
    if oidc_provider.startswith("arn:"):
        provider_arn, issuer = oidc_provider, oidc_provider.split(":oidc-provider/", 1)[-1]
    else:
        issuer = oidc_provider.removeprefix("https://").rstrip("/")
        provider_arn = f"arn:aws:iam::{account}:oidc-provider/{issuer}"
    return {"Version": POLICY_VERSION, "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": provider_arn}, "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {f"{issuer}:sub": f"system:serviceaccount:{namespace}:{service_account}",
                                       f"{issuer}:aud": "sts.amazonaws.com"}}}]}
