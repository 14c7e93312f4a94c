"""What an executed notebook printed and drew, for the notebook tests of every area."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NotebookOutputs:
    """The code cells' outputs of an executed notebook, sorted into what tests check."""

    errors: list[dict]
    images: list[dict]
    text: str


def read_outputs(nb) -> NotebookOutputs:  # noqa: ANN001 - an nbformat notebook
    """Collect error outputs, PNG images and printed text from ``nb``'s code cells."""
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    return NotebookOutputs(
        errors=[o for o in outputs if o.get("output_type") == "error"],
        images=[o for o in outputs if "image/png" in o.get("data", {})],
        text="".join(o.get("text", "") for o in outputs),
    )
