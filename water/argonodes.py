"""What a run's Workflow says of each of its steps and why, read as Argo's controller writes its nodes
(workflow/controller/dag.go, executeDAGTask): a task whose `when` is false becomes a node of type Skipped, phase
Skipped, message "when '<the condition, its parameters substituted>' evaluated false"; a task whose `depends`
can no longer hold (after a skipped gate or a failure) a node of type Skipped, phase Omitted, message "omitted:
depends condition not met", the node it waited for linking to it in `children`. The reasons are said in the
words of `water run --local`. Read by `water status` and by the exit handler's Slack message."""
from __future__ import annotations

import re

from water import contract

WHEN_FALSE = re.compile(r"^when '(.*)' evaluated false$", re.S)
ATTEMPT = re.compile(r"\(\d+\)$")  # a retried task's pods are named TASK(0), TASK(1), ...
# govaluate's operators (conditions.to_argo writes them) back in the words of a spec's `when:`
WORDS = ((" && ", " and "), (" || ", " or "), ("!(", "not ("))


def step_nodes(workflow: dict) -> list:
    """The nodes that are steps — pods, and tasks Argo skipped or omitted — in start order."""
    nodes = [n for n in ((workflow.get("status") or {}).get("nodes") or {}).values()
             if n.get("type") in ("Pod", "Skipped")]
    return sorted(nodes, key=lambda n: (n.get("startedAt") or "", n.get("displayName", "")))


def reason(node: dict, workflow: dict) -> str:
    """Why a node is where it is: a skipped step's condition with its values, the step an omitted one waited
    for, a failed one's message (its first line); '' for the rest."""
    message = node.get("message") or ""
    phase = node.get("phase")
    if phase == "Skipped":
        found = WHEN_FALSE.match(message)
        decided = _decided(node, workflow)
        return decided or (f"when: {_words(found.group(1))} is false" if found else message)
    if phase == "Omitted":
        before = _waited_for(node, workflow)
        if before is None:
            return message
        name = ATTEMPT.sub("", before.get("displayName") or before.get("name", ""))
        return f"{name} {'was skipped' if before.get('phase') in ('Skipped', 'Omitted') else 'failed'}"
    if phase in ("Failed", "Error"):
        return message.splitlines()[0] if message else ""
    return ""


def skipped(workflow: dict) -> list:
    """(step, why) of each step the run skipped or omitted, in start order."""
    return [(n.get("displayName") or n.get("name"), reason(n, workflow)) for n in step_nodes(workflow)
            if n.get("phase") in ("Skipped", "Omitted")]


def _words(condition: str) -> str:
    for argo, spec in WORDS:
        condition = condition.replace(argo, spec)
    return condition


def _decided(node: dict, workflow: dict) -> str:
    """What the `water-job when` task of a step with a text condition said (its output `said`), if it has one."""
    name = contract.WHEN_TASK_PREFIX + (node.get("displayName") or "")
    for other in ((workflow.get("status") or {}).get("nodes") or {}).values():
        if ATTEMPT.sub("", other.get("displayName") or "") == name:
            said = [p.get("value", "") for p in (other.get("outputs") or {}).get("parameters") or ()
                    if p.get("name") == "said"]
            if said:
                return said[0]
    return ""


def _waited_for(node: dict, workflow: dict) -> dict | None:
    """The node whose outcome omitted this one: one it waited for (linking to it) that did not succeed."""
    nodes = (workflow.get("status") or {}).get("nodes") or {}
    return next((other for other in nodes.values() if node.get("id") in (other.get("children") or ())
                 and other.get("phase") != "Succeeded"), None)
