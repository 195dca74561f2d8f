"""water: one declarative file per ML pipeline, run locally or on Kubernetes."""

__version__ = "0.1.0"
