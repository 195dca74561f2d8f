"""Local runs: the pipeline's DAG on this machine, with no cluster and no AWS account."""
