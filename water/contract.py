"""What a rendered pod and water-job agree on, defined once: render writes it into manifests, the runtime reads
it in the pod, local runs give processes the same. A leaf module (beside errors), so the runtime need not import
rendering."""

# water-job's exit code when retrying cannot help: Argo's retryStrategy and the CronJob's podFailurePolicy stop on it
from water.errors import BAD_INPUT  # noqa: F401

# --- water-job's command line: `water-job <kind> [--shared B64] --config-key TASK [--refs JSON] [--shard i/n] ...` ---
ARG_SHARED = "--shared"  # the config every step of a template shares (base64 JSON)
ARG_CONFIG_KEY = "--config-key"  # the task whose own config the pod reads from STEPS_DIR/TASK
ARG_STEPS_DIR = "--steps-dir"  # elsewhere than STEPS_DIR (tests, local tools)
ARG_CONFIG = "--config"  # the step's own config (base64 JSON): the CronJob runner, and templates rendered before
ARG_REFS = "--refs"  # the upstream outputs the step reads, {"steps.NAME.OUTPUT": value}
ARG_SHARD = "--shard"  # i/n of a fanned-out step
ARG_POD_PATCH = "--pod-patch"  # read by Kubernetes through podSpecPatch, not by water-job
NOTIFY_ARGS = ("--status", "--failures", "--duration")  # what the exit handler knows of the run

# --- the steps' own configs: a ConfigMap per revision (named by its content's hash), mounted in every step pod ---
STEPS_DIR = "/etc/water/steps"  # a file per task: its own config as JSON
STEPS_LABEL = "water/steps"  # the hash naming a revision's step configs: on their ConfigMaps and on each run

# --- outputs: a file per declared output, read by Argo as the output parameter ---
OUTPUTS_DIR = "/tmp/water/outputs"
OUTPUTS_DIR_ENV = "WATER_OUTPUTS_DIR"  # elsewhere than OUTPUTS_DIR (tests, local tools)

# --- the environment of a step's pod (and of a local run's processes) ---
RUN_ID_ENV = "WATER_RUN_ID"  # the Workflow's (or Job's) name: {{run.id}}
PARAM_ENV_PREFIX = "WATER_PARAM_"  # + NAME: a run parameter's value
RUN_DATE_ENV = "WATER_RUN_DATE"  # {{run.date}} as given (local runs, `water run --date` of a plain CronJob)
SCHEDULED_TIME_ENV = "WATER_SCHEDULED_TIME"  # Argo's {{workflow.scheduledTime}}: the time a run stands for
CREATED_TIME_ENV = "WATER_CREATED_TIME"  # Argo's {{workflow.creationTimestamp}}: for runs without a scheduled time
ATTEMPT_ENV = "WATER_ATTEMPT"  # Argo's {{retries}}: which attempt of the step a pod is (0 the first)
SHARD_ENV = "WATER_SHARD"  # i/n: the shard a fanned-out step's process works on
NAMESPACE_ENV = "WATER_NAMESPACE"  # the pod's namespace (the exit handler's links)
SAGEMAKER_ROLE_ENV = "WATER_SAGEMAKER_ROLE"  # the pod's default SageMaker execution role
SPEC_HASH_ENV = "WATER_SPEC_HASH"  # the spec hash of the deployed revision (from the pod's annotation)
GIT_COMMIT_ENV = "WATER_GIT_COMMIT"  # the git commit it was deployed from, if any (from the pod's annotation)
GIT_BRANCH_ENV = "WATER_GIT_BRANCH"  # the branch it was deployed from, if any (from the pod's annotation)
ON_TERM_ENV = "WATER_ON_TERM"  # stop | leave: what SIGTERM does to the AWS job, without asking the Workflow
STOP_BUDGET_ENV = "WATER_STOP_BUDGET"  # seconds a SIGTERM'd step spends stopping its job (default 20)
TERMINATION_LOG_ENV = "WATER_TERMINATION_LOG"  # elsewhere than the kubelet's /dev/termination-log (tests)
SERVICE_ACCOUNT_DIR_ENV = "WATER_SERVICE_ACCOUNT_DIR"  # elsewhere than the pod's mounted token (tests)
RESERVED_ENV_PREFIXES = ("WATER_", "DD_", "DATADOG_")  # no spec may set these: water's own and Datadog's

# A SIGTERM'd step stops its AWS job within runtime.job.STOP_BUDGET (20 s) of quick calls; the kubelet waits
# this long before it kills the pod (Kubernetes' default, 30 s, left too little beside Argo's own wait container)
GRACE_PERIOD = 45

# --- the size task: what `water-job size` writes, and the refs a sized SageMaker step reads ---
def output_param(output: str) -> str:
    """A step output's Argo output parameter and its file under OUTPUTS_DIR: `metrics.KEY` is `metrics-KEY`, as
    Argo's parameter names hold no dots (letters, digits, '-' and '_')."""
    return output.replace(".", "-")


COST = "cost"  # what a priced kind's AWS job cost (USD), an output of its pod only: empty when it could not be priced

WHEN_TASK_PREFIX = "water-when-"  # + the step: the task that decides its text condition (water's own names start water-)
WHEN_HOLDS = "holds"  # a `water-job when` task's answer: true or false, all Argo's `when` reads of a text condition
WHEN_OUTPUTS = (WHEN_HOLDS, "said")  # said: the condition with the values it was decided on
SIZE_OUTPUTS = ("pod-patch", "shards", "tier", "bytes", "objects", "instance-type", "instance-count")
SIZED_INSTANCE = ("instance-type", "instance-count")  # the size outputs a sized SageMaker step takes


def sizing_ref(output: str) -> str:
    """The key under which a sized step finds one of its size task's outputs in --refs."""
    return f"sizing.{output}"


# The namespace's install-time links (`water install --argo-url/--datadog-url`), which failure messages use
# unless a spec's alerts.links says otherwise: the water-settings ConfigMap key of each link.
SETTINGS_CONFIGMAP = "water-settings"
EVENTS_SERVICE_ACCOUNT = "water-events"  # the EventSource (reads SQS, IRSA) and Sensor (creates Workflows) pods
SETTINGS_KEYS = {"argo": "argo-url", "datadog": "datadog-url"}


def settings_env(link: str) -> str:
    """The exit handler's env var holding a link's URL (from the ConfigMap, optional)."""
    return f"WATER_{link.upper()}_URL"
