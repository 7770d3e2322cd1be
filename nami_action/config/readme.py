"""Keep the generated reference inside README.md in step with the schema."""

from __future__ import annotations

from nami_action.config.reference import BEGIN, END, reference_markdown


def with_reference(readme: str) -> str:
    """The README text with the block between the markers replaced by the fresh reference."""
    head, found, rest = readme.partition(BEGIN)
    if not found:
        raise ValueError("README.md lacks the reference markers")
    _, found, tail = rest.partition(END)
    if not found:
        raise ValueError("README.md lacks the reference end marker")
    return f"{head}{BEGIN}\n{reference_markdown()}{END}{tail}"
