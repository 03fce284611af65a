"""Writes the JSON Schema of every top-level document into ``schemas/jsonschema/``.

Run ``python -m schemas.generate`` after changing a model; a test fails when they drift.
"""
from __future__ import annotations

import json
from pathlib import Path

from .documents import DOCUMENTS

OUT = Path(__file__).parent / "jsonschema"


def render(kind: str) -> str:
    schema = DOCUMENTS[kind].model_json_schema()
    schema["$id"] = f"https://vrai-tools.invalid/schemas/{kind}.schema.json"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def main() -> None:
    OUT.mkdir(exist_ok=True)
    for kind in DOCUMENTS:
        (OUT / f"{kind}.schema.json").write_text(render(kind))
        print(f"wrote {OUT / f'{kind}.schema.json'}")


if __name__ == "__main__":
    main()
