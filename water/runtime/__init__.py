"""The step runtime (`water-job <kind>`): what runs in the pods. Import-light: no CLI, no
Kubernetes client; boto3 and datadog load when a step needs them."""
