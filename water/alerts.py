"""`water-job notify`: the Slack message of the exit handler. Block Kit, user text escaped for
mrkdwn, the webhook URL (a secret) never printed; bounded retries inside a total deadline, so a
Slack outage never hangs a workflow. A message that cannot be posted is logged and counted
(water.notify.failures), and does not turn the run's outcome into a failure."""
from __future__ import annotations

import dataclasses
import http.client
import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from water import backoff
from water.contract import NAMESPACE_ENV, SETTINGS_KEYS, settings_env

if TYPE_CHECKING:
    from water.runtime.job import Job


RETRIES = backoff.Policy(first=1.0, cap=8.0, attempts=5, jitter=False)  # and never past the handler's deadline
DEADLINE = 60.0
REASON_CHARS, LOG_CHARS, SECTION_CHARS = 500, 2400, 3000  # a Slack section holds 3,000 characters


def escape(text: str) -> str:
    """Text as Slack mrkdwn shows it literally: &, <, > as entities; backticks cannot start code."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("`", "\u02cb")


# Go's strconv.Quote escapes: what Argo wraps {{workflow.failures}} in
_GO_ESCAPE = re.compile(r'\\(?:x([0-9a-fA-F]{2})|u([0-9a-fA-F]{4})|U([0-9a-fA-F]{8})|([0-7]{3})|(.))', re.S)
_GO_SIMPLE = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\",
              '"': '"', "'": "'"}
_ATTEMPT = re.compile(r"^(.*)\((\d+)\)$")  # a retry attempt's node: `train(2)`; step names hold no parentheses


def go_unquote(text: str) -> str:
    """The string a Go-quoted literal (strconv.Quote) stands for; ValueError if it is not one."""
    if len(text) < 2 or text[0] != '"' or text[-1] != '"':
        raise ValueError("not a Go-quoted string")

    def one(m):
        hex2, hex4, hex8, octal, simple = m.groups()
        if simple is not None:
            if simple not in _GO_SIMPLE:
                raise ValueError(f"unknown escape \\{simple}")
            return _GO_SIMPLE[simple]
        return chr(int(hex2 or hex4 or hex8, 16) if octal is None else int(octal, 8))

    return _GO_ESCAPE.sub(one, text[1:-1])


def failed_nodes(text: str) -> list:
    """Argo's {{workflow.failures}}, as the controller sends it: `strconv.Quote(json.Marshal(failures))`
    (argo-workflows workflow/controller/operator.go, "This strconv.Quote is necessary..."; its
    docs/variables.md lists the fields). Plain JSON (older Argo) is read too; anything else is one reason."""
    if not text:
        return []
    try:
        parsed = json.loads(go_unquote(text) if text.startswith('"') else text)
    except ValueError:
        return [{"displayName": "run", "message": text}]
    return [f for f in parsed if isinstance(f, dict)] if isinstance(parsed, list) else []


def failed_steps(text: str, run_id: str) -> list:
    """One entry per failed step, as the user named them: Argo lists every Failed/Error node in Go's random
    map order — the workflow's own root, a retry parent and each of its attempts `name(N)`, a fan-out parent
    and its children. Kept: the nodes no other listed node is a part of, attempts folded into their step with
    the last attempt's message and the number of attempts; ordered by when they finished, then by name."""
    nodes = [n for n in failed_nodes(text) if n.get("displayName") and n.get("displayName") != run_id]
    steps: dict = {}
    for node in nodes:
        attempt = _ATTEMPT.match(node["displayName"])
        name, number = (attempt.group(1), int(attempt.group(2))) if attempt else (node["displayName"], -1)
        entry = steps.setdefault(name, {"displayName": name, "attempts": 0, "_last": -2})
        if attempt:
            entry["attempts"] += 1
        if number > entry["_last"]:
            entry.update({k: v for k, v in node.items() if k != "displayName"}, _last=number)
    parents = {name for name in steps for other in steps if other != name and other.startswith(name + "(")}
    kept = [entry for name, entry in steps.items() if name not in parents]
    for entry in kept:
        del entry["_last"]
    return sorted(kept, key=lambda e: (str(e.get("finishedAt") or ""), e["displayName"]))


def _failure_text(failure: dict) -> str:
    """`*step* failed after N attempts: reason`, then the end of its log (the step's termination message) as a
    code block."""
    name = failure.get("displayName") or failure.get("templateName") or "step"
    reason, _, log = str(failure.get("message") or "no message").partition("\n")
    attempts = failure.get("attempts", 0)
    after = f" after {attempts} attempts" if attempts > 1 else ""
    text = f"*{escape(name)}* failed{after}: {escape(reason[:REASON_CHARS])}"
    if log.strip():
        text += "\n```" + escape(log)[-LOG_CHARS:] + "```"
    return text


def _skipped_text(skipped: Sequence[tuple[str, str]]) -> str:
    """One line per skipped step with its reason, within a section's 3,000 characters."""
    lines = [f"*{escape(step)}* skipped: {escape(why)}" for step, why in skipped]
    text, shown = "", 0
    for line in lines:
        if len(text) + len(line) + 40 > SECTION_CHARS:
            break
        text, shown = f"{text}\n{line}" if text else line, shown + 1
    return text + (f"\n… and {len(lines) - shown} more skipped" if shown < len(lines) else "")


def _cost_text(costs: Sequence[tuple[str, float]]) -> str:
    """The run's AWS cost and its steps' (the costliest first, ten at most), within a section's 3,000 characters."""
    from water.argonodes import usd_text

    ranked = sorted(costs, key=lambda c: -c[1])
    parts = ", ".join(f"{escape(step)} {usd_text(usd)}" for step, usd in ranked[:10])
    more = f", and {len(ranked) - 10} more" if len(ranked) > 10 else ""
    return f"*AWS cost* {usd_text(sum(usd for _, usd in costs))} ({parts}{more})"[:3000]


def _duration(text: str) -> str:
    try:
        seconds = int(float(text))
    except (TypeError, ValueError):
        return "unknown"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"


def message(config: dict, run_id: str, namespace: str, status: str, failures: str, duration: str,
            settings: dict | None = None, skipped: Sequence[tuple[str, str]] = (),
            costs: Sequence[tuple[str, float]] = ()) -> dict:
    """`settings`: the namespace's install-time links (`argo`, `datadog`); the spec's alerts.links win.
    `skipped`: (step, why) of the steps the run skipped; `costs`: (step, USD) of its priced AWS jobs."""
    pipeline, links = config["pipeline"], {**(settings or {}), **(config.get("links") or {})}
    ok, started = status == "Succeeded", status == "Running"  # Running: the start hook's message
    title = f"▶️ {pipeline} started" if started else f"{'✅' if ok else '❌'} {pipeline} {status.lower()}"
    failed = failed_steps(failures, run_id)
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": title}},
        {"type": "section", "fields": [
            {"type": "mrkdwn", "text": f"*Pipeline*\n{escape(pipeline)}"},
            {"type": "mrkdwn", "text": f"*Run*\n{escape(run_id)}"},
            {"type": "mrkdwn", "text": f"*Status*\n{escape(status)}"}]
            + ([] if started else [{"type": "mrkdwn", "text": f"*Duration*\n{_duration(duration)}"}])},
    ]
    for failure in failed:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _failure_text(failure)}})
    if skipped:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _skipped_text(skipped)}})
    if costs:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _cost_text(costs)}})
    link_texts = []
    if links.get("argo"):
        link_texts.append(f"<{links['argo'].rstrip('/')}/workflows/{namespace}/{urllib.parse.quote(run_id)}|Run in Argo>")
    if links.get("datadog"):
        query = urllib.parse.quote(f"service:{pipeline}")
        link_texts.append(f"<{links['datadog'].rstrip('/')}/logs?query={query}|Logs in Datadog>")
    if link_texts:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(link_texts)}]})
    names = ", ".join(f.get("displayName", "step") for f in failed)
    body = {"text": f"{title}{': ' + names if names else ''}", "blocks": blocks}
    channel = (config.get("slack") or {}).get("channel")
    if channel:
        body["channel"] = channel
    return body


class _NotPosted(Exception):
    def __init__(self, why: str, again: bool) -> None:
        super().__init__(why)
        self.why, self.again = why, again  # again: a 429, a 5xx or no answer, which a later try may get past


def post(url: str, body: dict, deadline: float = DEADLINE, retries: backoff.Policy = RETRIES,
         sleep: Callable[[float], object] = time.sleep, clock: Callable[[], float] = time.monotonic) -> str:
    """POST the message; retry 429/5xx and network errors as `retries` says, never past the deadline.
    Returns "" when posted, else why not (without the URL, which is a secret)."""
    started = clock()
    data = json.dumps(body).encode()
    malformed = "the webhook URL in the Secret is not a valid http(s) URL (not shown: it holds a token)"
    try:
        if urllib.parse.urlsplit(url).scheme not in ("http", "https"):  # urlopen would also read file: URLs
            return malformed
    except ValueError:
        return malformed
    tries = []

    def once() -> str:
        tries.append(1)
        try:
            request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
            left = max(0.1, started + deadline - clock())
            with urllib.request.urlopen(request, timeout=min(10.0, left)) as response:
                response.read()
                return ""
        except urllib.error.HTTPError as exc:
            raise _NotPosted(f"Slack answered {exc.code}", exc.code == 429 or exc.code >= 500) from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise _NotPosted(f"no answer ({getattr(exc, 'reason', exc)})", True) from None
        except (ValueError, http.client.HTTPException):  # urllib's messages quote the URL, and with it its token
            raise _NotPosted(malformed, False) from None

    try:
        return backoff.retry(once, dataclasses.replace(retries, deadline=deadline),
                             retryable=lambda exc: isinstance(exc, _NotPosted) and exc.again, sleep=sleep,
                             clock=clock)
    except _NotPosted as exc:
        if not exc.again:
            return exc.why if exc.why == malformed else exc.why + " (not retried)"
        return f"gave up after {len(tries)} attempts in {clock() - started:.0f}s: {exc.why}"


class NotifyTask:
    """Post the run's Slack message (the exit handler)."""

    def run_cluster(self, job: Job) -> dict:
        from water import argonodes

        url = job.env.get("SLACK_WEBHOOK_URL", "")
        settings = {link: job.env[settings_env(link)] for link in SETTINGS_KEYS
                    if job.env.get(settings_env(link))}  # from the water-settings ConfigMap, when `water install` set them
        run = _workflow(job)
        body = message(job.config, job.run_id, job.env.get(NAMESPACE_ENV, "default"), job.extra.get("status", ""),
                       job.extra.get("failures", ""), job.extra.get("duration", ""), settings,
                       argonodes.skipped(run) if run else [], argonodes.costs(run) if run else [])
        why = post(url, body, deadline=float(job.config.get("timeout", DEADLINE)) - 5) if url else "no webhook URL"
        if why:
            print(f"water-job: could not post to Slack: {why}", flush=True)
            job.metrics.increment("water.notify.failures")
        else:
            print(f"posted to Slack: {body['text']}", flush=True)
        return {}


def _workflow(job: Job) -> dict | None:
    """The run's Workflow (what it skipped, what it cost), or None, saying why, when it cannot be read."""
    from water.runtime import workflow

    try:
        return workflow.read(job.run_id, job.env)
    except workflow.Unknown as exc:
        print(f"water-job: cannot say which steps were skipped or what they cost: {exc}", flush=True)
        return None


NOTIFY_TASK = NotifyTask()
