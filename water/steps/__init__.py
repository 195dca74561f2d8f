"""The registry of step kinds: a kind is one module (see water.steps.base.Kind), registered here. The spec
language learns the kinds from here (water.spec.model.STEP_KINDS), never the other way round."""
from __future__ import annotations

from water.spec.model import STEP_KINDS
from water.steps.base import Kind

KINDS: dict = {}  # name → Kind


def register(kind: Kind) -> Kind:
    """Make a kind known: to the spec (its key under a step), checks, render, `water-job` and local runs."""
    KINDS[kind.name] = kind
    STEP_KINDS[kind.name] = kind.spec
    return kind


def unregister(name: str) -> None:
    KINDS.pop(name, None)
    STEP_KINDS.pop(name, None)


def _register_builtins() -> None:
    # the register kind's module is `registry`: `water.steps.register` is the function above
    from water.steps import athena, check, container, endpoint, glue, registry, train, transform

    for module in (container, athena, glue, check, train, transform, registry, endpoint):
        register(module.KIND)


_register_builtins()
