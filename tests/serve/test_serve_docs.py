"""docs/serve.md's REST reference is the app's OpenAPI schema, regenerated."""

from __future__ import annotations

from pathlib import Path

from mmsearch.serve.apidoc import reference, schema, updated

PAGE = Path(__file__).parents[2] / "docs" / "serve.md"


def test_the_rest_reference_matches_the_openapi_schema() -> None:
    page = PAGE.read_text(encoding="utf-8")
    assert updated(page, reference(schema())) == page, (
        "docs/serve.md is out of date: run python -m mmsearch.serve.apidoc docs/serve.md"
    )
