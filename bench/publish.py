"""What every benchmark does with its Markdown block: print it, and append it to a file if asked."""

from __future__ import annotations


def emit(text: str, append_to: str | None) -> None:
    print(text)
    if append_to:
        with open(append_to, "a") as handle:
            handle.write("\n" + text)
