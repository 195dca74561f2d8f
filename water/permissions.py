"""The IAM statements a pipeline's step pods need, as each kind builds them (Kind.permissions) from its spec: ARNs
of exactly the resources the spec names, S3 prefixes up to their first run-time expression. Where a wildcard
cannot be avoided, the kind says why (Scope.note); `water iam` prints the notes beside the policy."""
from __future__ import annotations

from dataclasses import dataclass, field

from water.spec.types import EXPR_OPEN

ANY_ACCOUNT = "*"


@dataclass
class Scope:
    """Where the pods' calls go: the partition, region and account the ARNs name, and what was said of them."""

    region: str
    account: str
    pipeline: str
    role: str | None = None  # spec.aws.sagemakerRole
    artifacts: str | None = None  # spec.aws.artifacts
    partition: str = "aws"
    notes: list = field(default_factory=list)

    def arn(self, service: str, resource: str, *, regional: bool = True) -> str:
        region, account = (self.region, self.account) if regional else ("", "")
        return f"arn:{self.partition}:{service}:{region}:{account}:{resource}"

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)


def statement(sid: str, actions: list, resources: list, condition: dict | None = None) -> dict:
    found: dict = {"Sid": sid, "Effect": "Allow", "Action": sorted(set(actions)), "Resource": sorted(set(resources))}
    if condition:
        found["Condition"] = condition
    return found


def s3_parts(uri: str) -> tuple[str, str]:
    """(bucket, key prefix) of an s3:// URI, the prefix cut at its first expression: what every run's value of it
    starts with."""
    bucket, _, key = uri[len("s3://"):].partition("/")
    return bucket, key.split(EXPR_OPEN, 1)[0]


def s3_access(scope: Scope, sid: str, uris: list, write: bool = False) -> list:
    """Listing of the prefixes (ListBucket on the bucket, limited by s3:prefix) and reading their objects (and
    writing them when `write`)."""
    out = []
    by_bucket: dict = {}
    for uri in uris:
        if uri and uri.startswith("s3://"):
            bucket, prefix = s3_parts(uri)
            by_bucket.setdefault(bucket, set()).add(prefix)
    for bucket, prefixes in sorted(by_bucket.items()):
        out.append(statement(f"{sid}List", ["s3:ListBucket"], [f"arn:{scope.partition}:s3:::{bucket}"],
                             {"StringLike": {"s3:prefix": sorted(f"{p}*" for p in prefixes)}}))
    objects = [f"arn:{scope.partition}:s3:::{b}/{p}*" for b, ps in sorted(by_bucket.items()) for p in sorted(ps)]
    if objects:
        out.append(statement(f"{sid}Objects", ["s3:GetObject"] + (["s3:PutObject"] if write else []), objects))
    return out


def pass_role(scope: Scope, sid: str, role: str | None) -> list:
    """iam:PassRole of the SageMaker execution role (the step's, else the pipeline's), to SageMaker only."""
    role = role or scope.role
    if not role:
        scope.note("no SageMaker execution role is named (spec.aws.sagemakerRole or the step's role): iam:PassRole "
                   "is left out; add it for the role the pods' WATER_SAGEMAKER_ROLE names")
        return []
    return [statement(sid, ["iam:PassRole"], [role], {"StringEquals": {"iam:PassedToService":
                                                                        "sagemaker.amazonaws.com"}})]


def sagemaker_named(scope: Scope, sid: str, resource_type: str, step: str, actions: list) -> dict:
    """A step's SageMaker jobs (or models) of every run: their names start `<pipeline>-<step>-`
    (water.steps.train.job_name); SageMaker's ARNs hold names in lower case."""
    prefix = f"{scope.pipeline[:26]}-{step[:26]}-".replace("_", "-").lower()
    return statement(sid, actions, [scope.arn("sagemaker", f"{resource_type}/{prefix}*")])


def sagemaker_jobs(scope: Scope, sid: str, job_type: str, step: str, actions: list) -> list:
    """sagemaker_named's jobs, and listing them: that cannot be narrowed (List*Jobs has no resource), and needs
    no more: the answer is names."""
    return [sagemaker_named(scope, sid, job_type, step, actions),
            statement(f"{sid}List", [f"sagemaker:List{_camel(job_type)}s"], ["*"])]


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("-"))


def log_tail(scope: Scope, sid: str, groups: list) -> list:
    """Reading the CloudWatch log streams water tails when a job fails."""
    return [statement(f"{sid}Logs", ["logs:DescribeLogStreams", "logs:GetLogEvents"],
                      [scope.arn("logs", f"log-group:{g}:*") for g in groups]
                      + [scope.arn("logs", f"log-group:{g}:log-stream:*") for g in groups])]


def _widest(resources: set) -> list:
    """The resources without those another one's trailing `*` already covers, sorted."""
    wide = [r[:-1] for r in resources if r.endswith("*")]
    return sorted(r for r in resources if not any(r != w + "*" and r.startswith(w) for w in wide))


def sid(*words: str) -> str:
    """A statement id (IAM allows letters and digits only): `train-model`, `Objects` → `TrainModelObjects`."""
    return "".join(part[:1].upper() + part[1:] for word in words for part in word.replace("_", "-").split("-")
                   if part.isalnum())


def merged(statements: list) -> list:
    """The statements with the same actions and condition as one (their resources together), in a stable order,
    each Sid unique (IAM requires it): the first one's, numbered when taken."""
    found: dict = {}
    for s in statements:
        key = (tuple(s["Action"]), repr(s.get("Condition")))
        if key in found:
            found[key]["Resource"] = _widest(set(found[key]["Resource"]) | set(s["Resource"]))
        else:
            found[key] = {**s, "Resource": _widest(set(s["Resource"]))}
    out, taken = [], set()
    for s in sorted(found.values(), key=lambda s: (s["Sid"], s["Action"])):
        name, n = s["Sid"], 2
        while name in taken:
            name, n = f"{s['Sid']}{n}", n + 1
        taken.add(name)
        out.append({**s, "Sid": name})
    return out
