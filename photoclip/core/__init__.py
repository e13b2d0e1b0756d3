"""photoclip's engine: catalog, images, model, vectors, indexing and search. No Qt here."""

from photoclip.core.errors import (
    FolderError,
    ImageDecodeError,
    LabelSetError,
    LibraryError,
    LibraryLockedError,
    ModelUnavailableError,
    PhotoclipError,
    TrashError,
)
from photoclip.core.library import Library, LibraryStatus, SearchResult

__all__ = [
    "FolderError",
    "ImageDecodeError",
    "LabelSetError",
    "Library",
    "LibraryError",
    "LibraryLockedError",
    "LibraryStatus",
    "ModelUnavailableError",
    "PhotoclipError",
    "SearchResult",
    "TrashError",
]
