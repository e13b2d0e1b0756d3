"""photoclip's engine: catalog, images, model, vectors, indexing and search. No Qt here."""

from photoclip.core.errors import (
    CatalogDamagedError,
    DiskFullError,
    DownloadCancelled,
    FolderError,
    ImageDecodeError,
    LabelSetError,
    LibraryError,
    LibraryLockedError,
    ModelUnavailableError,
    PhotoclipError,
    ReadOnlyLibraryError,
    TrashError,
)
from photoclip.core.library import Library, LibraryStatus, SearchResult

__all__ = [
    "CatalogDamagedError",
    "DiskFullError",
    "DownloadCancelled",
    "FolderError",
    "ImageDecodeError",
    "LabelSetError",
    "Library",
    "LibraryError",
    "LibraryLockedError",
    "LibraryStatus",
    "ModelUnavailableError",
    "PhotoclipError",
    "ReadOnlyLibraryError",
    "SearchResult",
    "TrashError",
]
