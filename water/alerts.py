"""`water-job notify`: the Slack message of the exit handler. Block Kit, user text escaped for
mrkdwn, the webhook URL (a secret) never printed; bounded retries inside a total deadline, so a
Slack outage never hangs a workflow. A message that cannot be posted is logged and counted
(water.notify.failures), and does not turn the run's outcome into a failure."""
from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request

from water.contract import SETTINGS_KEYS, settings_env

ATTEMPTS = 5
DEADLINE = 60.0
REASON_CHARS, LOG_CHARS = 500, 2400  # a Slack section holds 3,000 characters


def escape(text: str) -> str:
    """Text as Slack mrkdwn shows it literally: &, <, > as entities; backticks cannot start code."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("`", "\u02cb")


def _failures(text: str) -> list:
    """Argo's {{workflow.failures}}: a JSON list of failed nodes; anything else is one plain reason."""
    if not text:
        return []
    try:
        parsed = json.loads(text)
    except ValueError:
        return [{"displayName": "run", "message": text}]
    return [f for f in parsed if isinstance(f, dict)] if isinstance(parsed, list) else []


def _failure_text(failure: dict) -> str:
    """`*step* failed: reason`, then the end of its log (the step's termination message) as a code block."""
    name = failure.get("displayName") or failure.get("templateName") or "step"
    reason, _, log = str(failure.get("message") or "no message").partition("\n")
    text = f"*{escape(name)}* failed: {escape(reason[:REASON_CHARS])}"
    if log.strip():
        text += "\n```" + escape(log)[-LOG_CHARS:] + "```"
    return text


def _duration(text: str) -> str:
    try:
        seconds = int(float(text))
    except (TypeError, ValueError):
        return "unknown"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"


def message(config: dict, run_id: str, namespace: str, status: str, failures: str, duration: str,
            settings: dict | None = None) -> dict:
    """`settings`: the namespace's install-time links (`argo`, `datadog`); the spec's alerts.links win."""
    pipeline, links = config["pipeline"], {**(settings or {}), **(config.get("links") or {})}
    ok = status == "Succeeded"
    title = f"{'✅' if ok else '❌'} {pipeline} {status.lower()}"
    failed = _failures(failures)
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": title}},
        {"type": "section", "fields": [
            {"type": "mrkdwn", "text": f"*Pipeline*\n{escape(pipeline)}"},
            {"type": "mrkdwn", "text": f"*Run*\n{escape(run_id)}"},
            {"type": "mrkdwn", "text": f"*Status*\n{escape(status)}"},
            {"type": "mrkdwn", "text": f"*Duration*\n{_duration(duration)}"}]},
    ]
    for failure in failed:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _failure_text(failure)}})
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


def post(url: str, body: dict, deadline: float = DEADLINE, attempts: int = ATTEMPTS, sleep=time.sleep,
         clock=time.monotonic) -> str:
    """POST the message; retry 429/5xx and network errors with backoff, never past the deadline.
    Returns "" when posted, else why not (without the URL, which is a secret)."""
    end = clock() + deadline
    data = json.dumps(body).encode()
    why = "no attempt made"
    for attempt in range(attempts):
        left = end - clock()
        if left <= 0:
            return f"gave up after {deadline:.0f}s: {why}"
        request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=min(10.0, left)) as response:
                response.read()
                return ""
        except urllib.error.HTTPError as exc:
            why = f"Slack answered {exc.code}"
            if exc.code != 429 and exc.code < 500:
                return why + " (not retried)"
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            why = f"no answer ({getattr(exc, 'reason', exc)})"
        sleep(min(2 ** attempt, max(0.0, end - clock())))
    return f"gave up after {attempts} attempts: {why}"


class NotifyTask:
    def run_cluster(self, job) -> dict:
        url = job.env.get("SLACK_WEBHOOK_URL", "")
        settings = {link: job.env[settings_env(link)] for link in SETTINGS_KEYS
                    if job.env.get(settings_env(link))}  # from the water-settings ConfigMap, when `water install` set them
        body = message(job.config, job.run_id, job.env.get("WATER_NAMESPACE", "default"), job.extra.get("status", ""),
                       job.extra.get("failures", ""), job.extra.get("duration", ""), settings)
        why = post(url, body, deadline=float(job.config.get("timeout", DEADLINE)) - 5) if url else "no webhook URL"
        if why:
            print(f"water-job: could not post to Slack: {why}", flush=True)
            job.metrics.increment("water.notify.failures")
        else:
            print(f"posted to Slack: {body['text']}", flush=True)
        return {}


NOTIFY_TASK = NotifyTask()
