"""What a run's Workflow says of each of its steps and why, read as Argo's controller writes its nodes
(workflow/controller/dag.go, executeDAGTask): a task whose `when` is false becomes a node of type Skipped, phase
Skipped, message "when '<the condition, its parameters substituted>' evaluated false"; a task whose `depends`
can no longer hold (after a skipped gate or a failure) a node of type Skipped, phase Omitted, message "omitted:
depends condition not met", the node it waited for linking to it in `children`. The reasons are said in the
words of `water run --local`. Read by `water status` and by the exit handler's Slack message."""
from __future__ import annotations

import re
from typing import Any

from water import contract

WHEN_FALSE = re.compile(r"^when '(.*)' evaluated false$", re.S)
ATTEMPT = re.compile(r"\(\d+\)$")  # a retried task's pods are named TASK(0), TASK(1), ...
# govaluate's operators (conditions.to_argo writes them) back in the words of a spec's `when:`
WORDS = ((" && ", " and "), (" || ", " or "), ("!(", "not ("))


def step_nodes(workflow: dict) -> list:
    """The nodes that are steps — pods, and tasks Argo skipped or omitted — in start order."""
    nodes = [n for n in _nodes(workflow).values() if n.get("type") in ("Pod", "Skipped")]
    return sorted(nodes, key=lambda n: (n.get("startedAt") or "", n.get("displayName", "")))


def cost(node: dict) -> float | None:
    """What a priced step's AWS job cost (USD), as its pod said in its `cost` output; None if it said nothing."""
    from water.contract import COST

    for param in (node.get("outputs") or {}).get("parameters") or ():
        if param.get("name") == COST and param.get("value"):
            return float(param["value"])
    return None


def costs(workflow: dict) -> list:
    """(step, USD) of each step of the run whose AWS job was priced, in start order."""
    return [(n.get("displayName") or n.get("name"), usd) for n in step_nodes(workflow)
            if (usd := cost(n)) is not None]


def usd_text(usd: float | None) -> str:
    """A cost as status and Slack show it: dollars to the cent, or to the first figure under a cent."""
    if usd is None:
        return ""
    return f"${usd:.2f}" if usd >= 0.01 or usd == 0 else f"${usd:.2g}"


def reasons(workflow: dict) -> dict:
    """Node id → why the node is where it is: a skipped step's condition with its values, the step an omitted one
    waited for, a failed one's message (its first line); '' for the rest. The node graph is indexed once, so a
    run of thousands of steps is read in one pass."""
    nodes = _nodes(workflow)
    parents: dict = {}  # node id → the nodes linking to it (what it waited for)
    said: dict = {}  # a step → what its `water-job when` task decided
    for node in nodes.values():
        for child in node.get("children") or ():
            parents.setdefault(child, []).append(node)
        name = ATTEMPT.sub("", node.get("displayName") or "")
        found = [p.get("value", "") for p in (node.get("outputs") or {}).get("parameters") or ()
                 if p.get("name") == "said"]
        if name.startswith(contract.WHEN_TASK_PREFIX) and found:
            said[name[len(contract.WHEN_TASK_PREFIX):]] = found[0]
    return {node_id: _reason(node, parents.get(node_id, ()), said) for node_id, node in nodes.items()}


def _reason(node: dict, parents: Any, said: dict) -> str:
    message = node.get("message") or ""
    phase = node.get("phase")
    if phase == "Skipped":
        found = WHEN_FALSE.match(message)
        return said.get(node.get("displayName") or "") or (f"when: {_words(found.group(1))} is false" if found
                                                            else message)
    if phase == "Omitted":
        before = next((p for p in parents if p.get("phase") != "Succeeded"), None)  # what did not succeed
        if before is None:
            return message
        name = ATTEMPT.sub("", before.get("displayName") or before.get("name", ""))
        return f"{name} {'was skipped' if before.get('phase') in ('Skipped', 'Omitted') else 'failed'}"
    if phase in ("Failed", "Error"):
        return message.splitlines()[0] if message else ""
    return ""


def skipped(workflow: dict) -> list:
    """(step, why) of each step the run skipped or omitted, in start order."""
    why = reasons(workflow)
    return [(n.get("displayName") or n.get("name"), why.get(n.get("id"), "")) for n in step_nodes(workflow)
            if n.get("phase") in ("Skipped", "Omitted")]


def _nodes(workflow: dict) -> dict:
    return (workflow.get("status") or {}).get("nodes") or {}


def _words(condition: str) -> str:
    for argo, spec in WORDS:
        condition = condition.replace(argo, spec)
    return condition
