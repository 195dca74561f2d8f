"""What a rendered pod and water-job agree on: render writes it into manifests, the runtime reads it in the pod.
A leaf module (beside errors), so the runtime need not import rendering."""

# water-job's exit code when retrying cannot help: Argo's retryStrategy and the CronJob's podFailurePolicy stop on it
from water.errors import BAD_INPUT  # noqa: F401

OUTPUTS_DIR = "/tmp/water/outputs"  # a file per declared output, read by Argo as the output parameter

# The namespace's install-time links (`water install --argo-url/--datadog-url`), which failure messages use
# unless a spec's alerts.links says otherwise: the water-settings ConfigMap key of each link.
SETTINGS_CONFIGMAP = "water-settings"
SETTINGS_KEYS = {"argo": "argo-url", "datadog": "datadog-url"}


def settings_env(link: str) -> str:
    """The exit handler's env var holding a link's URL (from the ConfigMap, optional)."""
    return f"WATER_{link.upper()}_URL"
# A SIGTERM'd step stops its AWS job within runtime.job.STOP_BUDGET (20 s) of quick calls; the kubelet waits
# this long before it kills the pod (Kubernetes' default, 30 s, left too little beside Argo's own wait container)
GRACE_PERIOD = 45
ATTEMPT_ENV = "WATER_ATTEMPT"  # Argo's {{retries}}: which attempt of the step a pod is (0 the first)
SCHEDULED_TIME_ENV = "WATER_SCHEDULED_TIME"  # Argo's {{workflow.scheduledTime}}: the time a run stands for
CREATED_TIME_ENV = "WATER_CREATED_TIME"  # Argo's {{workflow.creationTimestamp}}: for runs without a scheduled time
