"""The one progress helper every long command uses."""
from __future__ import annotations

import sys
from typing import Iterable, Iterator, TypeVar

import click

T = TypeVar("T")


def progress(iterable: Iterable[T], label: str, quiet: bool = False, length: int | None = None) -> Iterator[T]:
    """A click progress bar on stderr (hidden with ``quiet`` or when not a terminal-friendly run)."""
    if quiet:
        yield from iterable
        return
    with click.progressbar(iterable, label=label, length=length, file=sys.stderr,
                           show_eta=True, show_pos=True) as bar:
        yield from bar
