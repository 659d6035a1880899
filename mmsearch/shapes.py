"""The JSON shapes of answers: one serializer for the CLI's ``--json`` and the REST API.

``mmsearch query --json`` and ``GET /api/v1/search`` print the same object, built here, so
the two cannot drift apart; plain CLI output is rendered from these same shapes
(:mod:`mmsearch.cli.render`), which is what lets a thin client print exactly what the
in-process command prints. Light on purpose: it imports nothing until called.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mmsearch.plugins import Registry
    from mmsearch.query.evaluation import EvalReport
    from mmsearch.query.planner import QueryPlan
    from mmsearch.query.runner import SearchResult
    from mmsearch.status import LibraryStatus


def search_json(result: SearchResult) -> dict[str, Any]:
    """A query's answer: hits (each with ``item_id`` and ``why``), the plan, timings."""
    return result.to_json()


def plan_json(plan: QueryPlan) -> dict[str, Any]:
    """A query plan (``--explain-plan --json``), with its readable lines under ``described``."""
    shaped = plan.to_json()
    shaped["described"] = plan.describe().splitlines()
    return shaped


def status_json(status: LibraryStatus) -> dict[str, Any]:
    """A library's status (``status --json``, ``GET /api/v1/status``)."""
    return status.to_json()


def plugins_json(registry: Registry) -> dict[str, Any]:
    """The loaded plugins and those that failed (``plugins --json``, ``GET /api/v1/plugins``)."""
    return {
        "plugins": [info.to_json() for info in registry.plugins.values()],
        "failed": [info.name for info in registry.failures],
    }


def eval_json(reports: list[EvalReport]) -> dict[str, Any]:
    """One or two evaluation reports (``eval --json``)."""
    return {"reports": [report.to_json() for report in reports]}


def dumps(shaped: dict[str, Any]) -> str:
    """The one line a shape is printed as."""
    return json.dumps(shaped)
