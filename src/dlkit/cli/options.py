"""Option groups that several commands share."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click


def transformer_options(layers_help: str = "Transformer: number of layers.",
                        ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--d-model``, ``--heads``, ``--layers``: the size of a Transformer (``dlkit charlm`` and
    ``dlkit translate train`` with ``--arch transformer``)."""
    return lambda command: _add([
        click.option("--d-model", type=click.IntRange(1), default=32, show_default=True,
                     help="Transformer: size of the embeddings and of every layer."),
        click.option("--heads", type=click.IntRange(1), default=4, show_default=True,
                     help="Transformer: attention heads (they must divide --d-model)."),
        click.option("--layers", type=click.IntRange(1), default=2, show_default=True,
                     help=layers_help),
    ], command)


def _add(options: list[Any], command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(options):
        command = option(command)
    return command
