"""Names for JSON that ci-ml has decoded but not yet checked against a shape.

They are the only `Any` the type checker lets through ([tool.mypy] rejects `Any`
written anywhere else): a value typed so comes from a file or a reply, and the code
that reads it checks what it uses (pydantic models, ``ci_ml.github.replies.check``).
"""

from __future__ import annotations

from typing import Any, TypeAlias

JSON: TypeAlias = Any  # type: ignore[explicit-any]  # any value json.loads returns
JSONObject: TypeAlias = dict[str, Any]  # type: ignore[explicit-any]  # a JSON object
