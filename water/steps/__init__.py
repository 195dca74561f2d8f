"""The registry of step kinds: adding a kind is one module plus one line here."""
from water.steps import athena, container, glue, train, transform

KINDS = {k.name: k for k in (container.KIND, athena.KIND, glue.KIND, train.KIND, transform.KIND)}
