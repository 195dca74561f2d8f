"""water.yaml: reading it with marks, the field language, the models and value types."""
