"""What changed in a library, told to whoever listens (the app keeps its views fresh by these).

``Library`` calls its listeners after each write that commits, on the thread that wrote:
listeners must be quick and must not call back into the library (the app re-emits them as
Qt signals, which queue them onto the GUI thread). Events say *what* changed, by photo id,
so a view can update the rows it shows instead of starting over.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class LibraryEvent:
    """Base of every event."""


@dataclass(frozen=True)
class PhotosChanged(LibraryEvent):
    """Photos became visible (new, back, embedded), went away, or changed in place."""

    added: frozenset[int] = field(default_factory=frozenset)
    removed: frozenset[int] = field(default_factory=frozenset)
    updated: frozenset[int] = field(default_factory=frozenset)
    everything: bool = False   # too many to list (a folder removed, a rescan): look again

    @classmethod
    def of(cls, added: Iterable[int] = (), removed: Iterable[int] = (),
           updated: Iterable[int] = ()) -> PhotosChanged:
        return cls(frozenset(added), frozenset(removed), frozenset(updated))

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.updated or self.everything)


@dataclass(frozen=True)
class TagsChanged(LibraryEvent):
    """Tags of these photos changed; ``None`` means any photo (a whole set was re-tagged)."""

    photo_ids: frozenset[int] | None = None
    label_sets: frozenset[str] | None = None   # which sets' definitions changed, if any


@dataclass(frozen=True)
class RootsChanged(LibraryEvent):
    """Folders were added, removed, restored, or went offline / came back."""


@dataclass(frozen=True)
class ModelChanged(LibraryEvent):
    """The library now searches with another model (a switch finished)."""

    spec: str


Listener = Callable[[LibraryEvent], None]
