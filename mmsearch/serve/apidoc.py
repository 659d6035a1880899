"""The REST reference of docs/serve.md, generated from the app's OpenAPI schema.

``python -m mmsearch.serve.apidoc docs/serve.md`` rewrites the part of the page between
the markers; a test fails when the page and the schema differ.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

BEGIN = "<!-- BEGIN REST REFERENCE (generated: python -m mmsearch.serve.apidoc docs/serve.md) -->"
END = "<!-- END REST REFERENCE -->"


def schema() -> dict[str, Any]:
    """The OpenAPI schema of the app (built without opening a library)."""
    from mmsearch.plugins import load_plugins
    from mmsearch.serve.app import create_app
    from mmsearch.serve.state import Engine, ServeConfig

    engine = Engine(ServeConfig(db_path=Path("catalog.db")), load_plugins(discover=False))
    built: dict[str, Any] = create_app(engine).openapi()
    return built


def reference(spec: dict[str, Any]) -> str:
    """Markdown: each route with its summary, description and parameters."""
    lines = [f"OpenAPI {spec['openapi']}, API version {spec['info']['version']}; the schema "
             "itself is served at `/api/v1/openapi.json`.", ""]  # fmt: skip
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            lines.append(f"### `{method.upper()} {path}`")
            lines.append("")
            lines.append(f"{op.get('summary', '')}. {op.get('description', '')}".strip())
            lines.append("")
            params = op.get("parameters", [])
            if params:
                lines.append("| parameter | in | type | meaning |")
                lines.append("|---|---|---|---|")
                for p in params:
                    lines.append(
                        f"| `{p['name']}` | {p['in']} | {_type(p.get('schema', {}))} | "
                        f"{p.get('description') or p.get('schema', {}).get('description', '')} |"
                    )
                lines.append("")
            body = op.get("requestBody", {}).get("content", {})
            for kind, content in body.items():
                lines.append(f"Body: `{kind}`, {_ref(content.get('schema', {}), spec)}.")
                lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _type(schema: dict[str, Any]) -> str:
    if "anyOf" in schema:
        return " or ".join(_type(s) for s in schema["anyOf"])
    if schema.get("type") == "array":
        return f"list of {_type(schema.get('items', {}))}"
    if "enum" in schema:
        return " \\| ".join(f"`{v}`" for v in schema["enum"])
    return str(schema.get("type", "any"))


def _ref(schema: dict[str, Any], spec: dict[str, Any]) -> str:
    name = schema.get("$ref", "").rsplit("/", 1)[-1]
    found = spec.get("components", {}).get("schemas", {}).get(name, schema)
    fields = ", ".join(f"`{k}` ({_type(v)})" for k, v in found.get("properties", {}).items())
    return f"fields {fields}" if fields else "see the schema"


def updated(page: str, generated: str) -> str:
    """``page`` with the text between the markers replaced by ``generated``."""
    head, _, rest = page.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return f"{head}{BEGIN}\n\n{generated}\n{END}{tail}"


if __name__ == "__main__":
    target = Path(sys.argv[1])
    target.write_text(updated(target.read_text(encoding="utf-8"), reference(schema())))
