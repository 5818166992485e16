"""Reading the files a user writes: YAML, strictly, with errors that name the file and the line.

``yaml.safe_load`` keeps the last of two equal keys, so a repeated section (two ``train:``) would
vanish silently; every run file and study file is read here, where a repeated key is an error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from axiomatic.errors import UserError


def read_yaml(path: Path, source: str | None = None) -> Any:
    """The parsed document (``yaml.safe_load``); any problem is a UserError naming ``source``
    (default: the path) and the line."""
    source = source or str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise UserError(f"{source}: not UTF-8 text (byte {err.start} of the file)") from None
    try:
        loaded = yaml.safe_load(text)
        # safe_load keeps the last of two equal keys; a repeated section would vanish silently.
        _check_duplicate_keys(yaml.compose(text, Loader=yaml.SafeLoader), source)
    except yaml.MarkedYAMLError as err:
        raise UserError(f"{source}: not valid YAML at {_yaml_where(err)}") from None
    except yaml.YAMLError as err:
        raise UserError(f"{source}: not valid YAML: {err}") from None
    return loaded


def _yaml_where(err: yaml.MarkedYAMLError) -> str:
    """``line 6, column 1: expected ',' or '}' (while parsing a flow mapping from line 5)``."""
    mark = err.problem_mark or err.context_mark
    where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "an unknown line"
    text = f"{where}: {err.problem or err.context}"
    if err.problem and err.context and err.context_mark:
        text += f" ({err.context} from line {err.context_mark.line + 1})"
    return text


def _check_duplicate_keys(node: yaml.Node | None, source: str) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                if key.value in seen:
                    raise UserError(f"{source}: not valid YAML at line {key.start_mark.line + 1}: "
                                    f"key {key.value!r} appears twice in one mapping")
                seen.add(key.value)
            _check_duplicate_keys(value, source)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _check_duplicate_keys(item, source)
