"""The water.yaml models (apiVersion water/v1). Every field here is documented and
shows up, with its doc, in `water schema` and docs/spec.md."""
from __future__ import annotations

from typing import Any

from water.spec.fields import List, Map, Model, SpecModel, Union, field
from water.spec.types import (
    DNS_SUBDOMAIN, ENV_NAME, IDENTIFIER, IMAGE, LABEL_KEY, LABEL_VALUE, PLAIN, TEXT, Bool, Cron, Duration, Enum, Int,
    Name, Number, Quantity, Scalar, SecretName, Str, TimeZone,
)

PIPELINE_NAME = Name(52)  # CronJob names get an 11-character suffix for their Jobs
STEP_NAME = Name(40)
BUILTIN_RESOURCES = {"cpu": "500m", "memory": "1Gi"}
INSTANCE_TYPE = Str(r"^ml\.[a-z0-9]+\.[a-z0-9]+$", "a SageMaker instance type such as ml.m5.xlarge")
URL = Str(r"^https?://[^\s{}<>|]+$", "an http(s) URL")
IAM_ROLE = Str(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$", "an IAM role ARN")


class Resources(SpecModel):
    """CPU, memory and GPUs of a step's pod; requests and limits are set alike (Guaranteed QoS)."""

    cpu: str = field(Quantity("500m"), "CPU cores, as a Kubernetes quantity (500m, 2).")
    memory: str = field(Quantity("1Gi"), "Memory, as a Kubernetes quantity (512Mi, 4Gi).")
    gpu: int = field(Int(0, 16), "NVIDIA GPUs (nvidia.com/gpu).")


class Instance(SpecModel):
    """SageMaker instances for a training job or batch transform."""

    type: str = field(INSTANCE_TYPE, "Instance type, e.g. ml.m5.xlarge.", required=True)
    count: int = field(Int(1, 100), "Number of instances.", default=1)


class SecretRef(SpecModel):
    """A value read from a Kubernetes Secret at run time; the value never enters the spec."""

    secret: str = field(DNS_SUBDOMAIN, "Name of the Secret in the pipeline's namespace.", required=True)
    key: str = field(Str(r"^[-._a-zA-Z0-9]+$", "a valid Secret key"), "Key inside the Secret.", required=True)


class Tier(SpecModel):
    """One size class: applies when the measured volume is at most `upTo` (the last tier takes the rest)."""

    up_to: int = field(Quantity("1Gi", as_bytes=True), "Upper bound of the volume (bytes, as a quantity: 500Mi, 20Gi).")
    resources: Resources = field(Model(Resources), "Pod resources for container steps in this tier.")
    parallelism: int = field(Int(1, 256), "Number of shards the step fans out to (container steps).")
    node_selector: dict = field(Map(LABEL_KEY, LABEL_VALUE), "Node labels the pods must run on (container steps).")
    instance: Instance = field(Model(Instance), "SageMaker instances (train and transform steps).")


class Sizing(SpecModel):
    """Size a step to the volume of an upstream step's output, measured at run time."""

    from_: str = field(STEP_NAME, "The upstream step whose output is measured.", required=True, key="from")
    tiers: list = field(List(Model(Tier), min_items=1), "Size classes, smallest first.", required=True)


STEP_KINDS: dict = {}  # kind name → the spec model under its key; filled by water.steps.register, above this


class Step(SpecModel):
    """One step of the pipeline: common settings plus exactly one kind (the key naming it)."""

    __spec_hints__ = {key: "water calls it after: [STEP, ...]" for key in ("dependencies", "depends_on",
                                                                              "dependsOn", "depends", "needs")}

    name: str = field(STEP_NAME, "Step name, unique in the pipeline (DNS-1123 label, at most 40 characters).",
                      required=True)
    after: list = field(List(STEP_NAME, unique=True), "Steps that must succeed before this one starts.", default=[])
    retries: int = field(Int(0, 20), "Retries after a failed attempt (default: spec.defaults.retries).")
    timeout: int = field(Duration(), "Longest time one attempt may take (default: spec.defaults.timeout).")
    resources: Resources = field(Model(Resources), "Pod resources (default: spec.defaults.resources).")
    env: dict = field(
        Map(ENV_NAME, Union((str, TEXT), (dict, Model(SecretRef)), what="a string or {secret, key}")),
        "Environment variables: a string (may hold expressions) or a Secret reference {secret, key}.", default={})
    sizing: Sizing = field(Model(Sizing), "Size this step to the output volume of an upstream step.")
    when: str = field(TEXT, "Run the step only if this holds: comparisons (== != < <= > >=) of numbers — "
                      "literals, numbers upstream steps produce ({{steps.NAME.metrics.KEY}}) and the metrics of the "
                      "model version that serves now ({{models.GROUP.live.metrics.KEY}}; while none serves, a "
                      "comparison with one holds) — and (== !=) of texts, with and, or, not and parentheses. A step "
                      "whose condition is false is skipped, with the values it was decided on, and so is every step "
                      "after it.")
    kind: str | None = None  # set by the parser: the kind key present
    config: Any = None  # set by the parser: that kind's spec


STEP = Model(Step, variants=lambda: STEP_KINDS)


class Schedule(SpecModel):
    """When the pipeline runs on the cluster."""

    cron: str = field(Cron(), "Five-field cron expression, or @daily/@hourly/...", required=True)
    timezone: str = field(TimeZone(), "IANA time zone the cron expression is read in (DST-aware).", default="UTC")
    concurrency: str = field(Enum("Allow", "Forbid", "Replace"), "What to do when a run is due while one is "
                             "still running.", default="Forbid")
    via: str = field(Enum("cronworkflow", "cronjob"), "Argo CronWorkflow, or a Kubernetes CronJob that submits "
                     "the WorkflowTemplate.", default="cronworkflow")
    starting_deadline: int = field(Duration(), "How late a missed run may still start (after a controller "
                                   "outage).", default="1h")
    suspend: bool = field(Bool(), "Deploy the schedule suspended.", default=False)
    history: int = field(Int(0, 100), "Finished runs kept per outcome (succeeded, failed).", default=3)


class Defaults(SpecModel):
    """Settings every step gets unless it sets its own."""

    retries: int = field(Int(0, 20), "Retries after a failed attempt.", default=2)
    timeout: int = field(Duration(), "Longest time one attempt may take.", default="6h")
    resources: Resources = field(Model(Resources), "Pod resources (built in: cpu 500m, memory 1Gi).")


class SlackAlert(SpecModel):
    """Post to Slack when a run ends (the Argo exit handler runs `water-job notify`), or starts."""

    webhook_secret: str = field(SecretName(), "Secret that holds the incoming-webhook URL.", required=True)
    webhook_key: str = field(Str(r"^[-._a-zA-Z0-9]+$", "a valid Secret key"), "Key of the URL in that Secret.",
                             default="url")
    channel: str = field(PLAIN, "Channel named in the message (the webhook decides where it goes).")
    on: list = field(List(Enum("failure", "success", "start"), min_items=1, unique=True), "What posts: a run that "
                     "failed, one that succeeded, one that started (Argo's `running` hook).", default=["failure"])


class DatadogAlert(SpecModel):
    """Datadog tags, unified service tagging and monitors."""

    tags: list = field(List(Str(r"^[A-Za-z][\w./:-]*$", "a Datadog tag (key:value)")), "Tags added to every "
                       "metric and monitor.", default=[])
    monitors: bool = field(Bool(), "Keep Datadog monitors (failure, missed schedule, duration) in step on deploy.",
                           default=False)
    env: str = field(LABEL_VALUE, "Unified service tagging `env` (tags.datadoghq.com/env).")
    service: str = field(LABEL_VALUE, "Unified service tagging `service` (default: the pipeline name).")
    statsd: str = field(Str(r"^(hostPort|none|[a-z0-9]([-a-z0-9.]*[a-z0-9])?(:[1-9]\d{0,4})?)$",
                            "hostPort, none, or HOST[:PORT]"),
                        "Where steps send metrics (DogStatsD over UDP). hostPort: the node's agent at "
                        "status.hostIP:8125, which needs the Datadog chart's `dogstatsd.useHostPort: true`; "
                        "HOST[:PORT]: e.g. the chart's node-local Service `datadog-agent.datadog.svc:8125`; none: "
                        "no metrics. (The agent's default Unix socket needs a hostPath volume, which restricted "
                        "pods may not mount.)", default="hostPort")
    notify: list = field(List(Str(r"^@[\w.+/-]+$", "a Datadog @-handle such as @slack-ml-alerts"), unique=True),
                         "Who the monitors notify: @-handles added to their messages.", default=[])
    grace: int = field(Duration(), "Missed-schedule monitor: how long a scheduled run may take before its first "
                       "step succeeds.", default="1h")


class Links(SpecModel):
    """Base URLs that alert messages link to."""

    argo: str = field(URL, "Argo UI, e.g. https://argo.example.com.")
    datadog: str = field(URL, "Datadog, e.g. https://app.datadoghq.com.")


class Alerts(SpecModel):
    """Where failures are reported."""

    slack: SlackAlert = field(Model(SlackAlert), "Slack messages from the exit handler.")
    datadog: DatadogAlert = field(Model(DatadogAlert), "Datadog settings.")
    links: Links = field(Model(Links), "Base URLs the Slack message links to (the run in Argo, its logs in Datadog).")


ML_INSTANCE = Str(r"^ml\.[a-z0-9]+\.[a-z0-9]+$", "a SageMaker instance type (ml.m5.xlarge)")


class Prices(SpecModel):
    """Your AWS prices (USD), over water's shipped table (its date and source: `water/runtime/prices.json`):
    negotiated rates, or a region the table lacks."""

    athena_per_tb: float = field(Number(0), "Athena, per TB scanned.")
    glue_per_dpu_hour: float = field(Number(0), "Glue, per DPU-hour.")
    training: dict = field(Map(ML_INSTANCE, Number(0)), "SageMaker training, per instance-hour by instance type.")
    inference: dict = field(Map(ML_INSTANCE, Number(0)), "SageMaker batch transform, per instance-hour by "
                            "instance type.")


class Aws(SpecModel):
    """AWS settings shared by the steps; credentials come from the service account (IRSA), never from here."""

    region: str = field(Str(r"^[a-z]{2}(-[a-z]+)+-\d$", "an AWS region such as ap-northeast-1"),
                        "Region of the AWS jobs (default: the pod's AWS_REGION); also the region `framework:version` "
                        "images are looked up for when rendering.")
    sagemaker_role: str = field(IAM_ROLE, "Execution role SageMaker jobs assume (train, transform).")
    artifacts: str = field(Str(r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/([^\s{}]+/)?$", "an S3 prefix ending in '/' "
                                "(s3://bucket/prefix/), without expressions"),
                           "Where `water deploy` stores the code AWS runs, by content (`glue/<sha256>/<script>`): "
                           "with it set, a glue step's `script` is uploaded and its Glue job defined from the spec.")
    glue_role: str = field(IAM_ROLE, "The role the Glue jobs water defines run as (with `artifacts`).")
    prices: Prices = field(Model(Prices), "What the steps' AWS jobs are priced with (`water status`, Slack, "
                           "`water cost`, the `water.step.cost` metric), over water's table.")


class LocalSettings(SpecModel):
    """Settings of local runs (`water run --local`); the cluster ignores them."""

    data_root = field(Str(r"^[^\s{}]+$", "a folder path"), "Folder standing for S3 in local runs: "
                      "s3://bucket/key is <dataRoot>/bucket/key (relative to the project).", default=".water/s3")
    tables = field(Map(Str(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)?$", "a table name (table or database.table)"),
                       Str(r"^[^\s{}]+$", "a file or folder path")),
                   "Where Athena tables come from in local runs: a CSV, Parquet or JSON file (or a folder of them) "
                   "in the project.", default={})


S3_BUCKET = Str(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", "an S3 bucket name")
KEY_PART = Str(r"^[^\s{}]*$", "a key prefix or suffix, as written (not URL-encoded), without spaces or braces")


class S3Events(SpecModel):
    """New objects in a bucket start runs. The bucket's event notifications (ObjectCreated) go to an SQS queue;
    water's Argo Events EventSource reads the queue and its Sensor submits one run per object version."""

    bucket: str = field(S3_BUCKET, "The bucket whose new objects start runs.", required=True)
    prefix: str = field(KEY_PART, "Only keys that start with this.", default="")
    suffix: str = field(KEY_PART, "Only keys that end with this (e.g. .csv).", default="")
    queue: str = field(Str(r"^[A-Za-z0-9_-]{1,80}$", "an SQS queue name (letters, digits, - and _; at most 80)"),
                       "The SQS queue (standard, not FIFO) that receives the bucket's notifications.", required=True)
    region: str = field(Str(r"^[a-z]{2}(-[a-z]+)+-\d$", "an AWS region such as ap-northeast-1"),
                        "Region of the queue (default: spec.aws.region).")


class Trigger(SpecModel):
    """Something besides the schedule that starts a run: an object arriving in S3."""

    s3: S3Events = field(Model(S3Events), "Runs when objects are created in an S3 bucket.", required=True)
    params: dict = field(Map(IDENTIFIER, TEXT), "Run parameters (declared under spec.params) from the event: "
                         "{{event.bucket}}, {{event.key}} (URL-decoded), {{event.size}} (bytes), {{event.time}} "
                         "(ISO 8601, UTC) and {{event.etag}}, in any text, e.g. s3://{{event.bucket}}/{{event.key}}.",
                         default={})


class Environment(SpecModel):
    """One place the pipeline deploys to (`--env NAME` on every cluster command): where, with which defaults."""

    namespace: str = field(Name(63), "Namespace (default: metadata.namespace, else the context's).")
    context: str = field(Str(r"^\S+$", "a kubeconfig context name"), "Kube context (default: the kubeconfig's "
                         "current one; --context wins).")
    params: dict = field(Map(IDENTIFIER, Scalar()), "Parameter defaults here, over spec.params (each declared "
                         "there).", default={})
    image: str = field(IMAGE, "The steps' image here (default: spec.image).")


class PipelineSpec(SpecModel):
    """What the pipeline runs, how and when."""

    image: str = field(IMAGE, "Image every step runs in (it has water installed: `water-job`).", required=True)
    service_account: str = field(DNS_SUBDOMAIN, "IRSA-annotated service account of the step pods.",
                                 default="water-runner")
    runner: str = field(Enum("argo", "cronjob"), "argo: WorkflowTemplate (+ schedule); cronjob: a single "
                        "container step as a plain Kubernetes CronJob.", default="argo")
    schedule: Schedule = field(Model(Schedule), "When to run; without it the pipeline runs only on `water run`.")
    environments: dict = field(Map(Name(30), Model(Environment)), "Where the pipeline deploys, by name "
                               "(staging, prod, ...): `water deploy --env prod` and every cluster command's --env.",
                               default={})
    triggers: list = field(List(Model(Trigger)), "Runs besides (or instead of) the schedule: each object that "
                           "lands in S3 starts one (Argo Events).", default=[])
    params: dict = field(Map(IDENTIFIER, Scalar()), "Run parameters with their defaults; `{{params.NAME}}` in "
                         "steps, `--param NAME=VALUE` to override.", default={})
    defaults: Defaults = field(Model(Defaults), "Settings every step gets unless it sets its own.", default={})
    alerts: Alerts = field(Model(Alerts), "Slack and Datadog.", default={})
    aws: Aws = field(Model(Aws), "AWS settings.", default={})
    local: LocalSettings = field(Model(LocalSettings), "Settings of local runs.", default={})
    steps: list = field(List(STEP, min_items=1), "The steps; order is free, `after` makes the graph.", required=True)


class Metadata(SpecModel):
    """Name and labels of the pipeline."""

    name: str = field(PIPELINE_NAME, "Pipeline name (DNS-1123 label, at most 52 characters: CronJob names get "
                      "suffixes).", required=True)
    namespace: str = field(Name(63), "Namespace (default: the kube context's namespace).")
    labels: dict = field(Map(LABEL_KEY, LABEL_VALUE), "Labels added to every object and pod.", default={})


class PipelineDoc(SpecModel):
    """A water pipeline (water.yaml)."""

    api_version: str = field(Enum("water/v1"), "Always water/v1.", required=True)
    kind: str = field(Enum("Pipeline"), "Always Pipeline.", required=True)
    metadata: Metadata = field(Model(Metadata), "Name and labels.", required=True)
    spec: PipelineSpec = field(Model(PipelineSpec), "The pipeline.", required=True)
