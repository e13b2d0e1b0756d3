"""XMP sidecars: tags written where digiKam, Lightroom and darktable look for them.

Names: ``photo.jpg`` gets ``photo.jpg.xmp`` (digiKam, darktable, Immich); a RAW file
``IMG_0001.CR2`` gets ``IMG_0001.xmp``, the name Lightroom, Camera Raw and Capture One read
and write for RAW files (and digiKam, Immich and exiftool read too). If darktable or
digiKam already keep ``IMG_0001.CR2.xmp`` beside the RAW file, that one is updated as well.
Each holds ``dc:subject`` (flat keywords) and ``lr:hierarchicalSubject`` (``set|label``). An
existing sidecar is merged into: every other element, attribute, namespace and comment in
it is kept, keywords are added to the bags that are already there, and the photo itself is
never opened for writing.

Why the standard library's XML parser and not an XMP toolkit: the maintained Python XMP
libraries (python-xmp-toolkit, pyexiv2) wrap native libraries (exempi, exiv2) that the
installers would have to ship for three platforms, for what is an RDF/XML edit of two bags.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path

from photoclip.core.errors import PhotoclipError, describe_os_error

NS = {
    "x": "adobe:ns:meta/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "dc": "http://purl.org/dc/elements/1.1/",
    "lr": "http://ns.adobe.com/lightroom/1.0/",
    "xmp": "http://ns.adobe.com/xap/1.0/",
    "xmpMM": "http://ns.adobe.com/xap/1.0/mm/",
    "exif": "http://ns.adobe.com/exif/1.0/",
    "tiff": "http://ns.adobe.com/tiff/1.0/",
    "photoshop": "http://ns.adobe.com/photoshop/1.0/",
    "crs": "http://ns.adobe.com/camera-raw-settings/1.0/",
    "digiKam": "http://www.digikam.org/ns/1.0/",
    "darktable": "http://darktable.sf.net/",
}
for _prefix, _uri in NS.items():
    ET.register_namespace(_prefix, _uri)

_PACKET_BEGIN = '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
_PACKET_END = '\n<?xpacket end="w"?>\n'


class SidecarError(PhotoclipError):
    """One sidecar could not be written; ``reason`` says why in a few words."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


def _q(prefix: str, name: str) -> str:
    return f"{{{NS[prefix]}}}{name}"


def sidecar_path(photo: str | os.PathLike[str]) -> Path:
    """The sidecar photoclip writes for ``photo``: ``NAME.xmp`` for RAW files, else
    ``NAME.EXT.xmp``."""
    from photoclip.core.raw import is_raw_path

    name = os.fspath(photo)
    if is_raw_path(name):
        return Path(os.path.splitext(name)[0] + ".xmp")
    return Path(name + ".xmp")


def sidecar_paths(photo: str | os.PathLike[str]) -> list[Path]:
    """Every sidecar that belongs to ``photo`` and is written or read: the one
    :func:`sidecar_path` names, plus, for a RAW file, ``NAME.EXT.xmp`` if it exists."""
    first = sidecar_path(photo)
    other = Path(os.fspath(photo) + ".xmp")
    return [first, other] if other != first and other.exists() else [first]


def _parse(path: Path) -> ET.ElementTree:
    parser = ET.XMLParser(target=ET.TreeBuilder(insert_comments=True))
    return ET.parse(path, parser=parser)


def _empty() -> ET.ElementTree:
    root = ET.Element(_q("x", "xmpmeta"))
    rdf = ET.SubElement(root, _q("rdf", "RDF"))
    ET.SubElement(rdf, _q("rdf", "Description"), {_q("rdf", "about"): ""})
    return ET.ElementTree(root)


def _bag_items(desc: ET.Element, prop: str) -> tuple[ET.Element, list[str]]:
    """The rdf:Bag under ``prop`` in ``desc`` (created if absent) and its values."""
    holder = desc.find(prop)
    if holder is None:
        holder = ET.SubElement(desc, prop)
    bag = holder.find(_q("rdf", "Bag"))
    if bag is None:
        bag = ET.SubElement(holder, _q("rdf", "Bag"))
    return bag, [(li.text or "") for li in bag.findall(_q("rdf", "li"))]


def write_tags(photo: str | os.PathLike[str], tags: Iterable[tuple[str, str]]) -> list[Path]:
    """Merge ``(set, label)`` tags into the photo's sidecars (:func:`sidecar_paths`);
    returns the sidecars written.

    Raises :class:`SidecarError` when one cannot be written (read-only folder, a name too
    long for the file system, disk full) or when an existing sidecar is not XML we can
    read: that one is left exactly as it was, and no temporary file stays behind.
    """
    tags = list(tags)
    return [_write_one(photo, target, tags) for target in sidecar_paths(photo)]


def _write_one(photo: str | os.PathLike[str], target: Path,
               tags: list[tuple[str, str]]) -> Path:
    try:
        return _write_tags(target, tags)
    except ET.ParseError as exc:
        raise SidecarError(os.fspath(photo), f"the existing sidecar {target.name} is not "
                           f"valid XMP (left as it is): {exc}") from exc
    except UnicodeDecodeError as exc:
        raise SidecarError(os.fspath(photo), f"the existing sidecar {target.name} is not "
                           "UTF-8 text (left as it is)") from exc
    except OSError as exc:
        raise SidecarError(os.fspath(photo),
                           f"cannot write its sidecar: {describe_os_error(exc)}") from exc


def _write_tags(target: Path, tags: Iterable[tuple[str, str]]) -> Path:
    original = target.read_text(encoding="utf-8") if target.exists() else ""
    tree = _parse(target) if original.strip() else _empty()
    root = tree.getroot()
    rdf = root if root.tag == _q("rdf", "RDF") else root.find(_q("rdf", "RDF"))
    if rdf is None:
        rdf = ET.SubElement(root, _q("rdf", "RDF"))
    descriptions = rdf.findall(_q("rdf", "Description"))
    # Add to the description that already holds keywords, else the first one.
    desc = next((d for d in descriptions if d.find(_q("dc", "subject")) is not None),
                descriptions[0] if descriptions else
                ET.SubElement(rdf, _q("rdf", "Description"), {_q("rdf", "about"): ""}))
    tags = list(tags)
    subject_bag, subjects = _bag_items(desc, _q("dc", "subject"))
    for label in dict.fromkeys(label for _set, label in tags):
        if label not in subjects:
            ET.SubElement(subject_bag, _q("rdf", "li")).text = label
    hier_bag, hierarchical = _bag_items(desc, _q("lr", "hierarchicalSubject"))
    for entry in dict.fromkeys(f"{s}|{label}" for s, label in tags):
        if entry not in hierarchical:
            ET.SubElement(hier_bag, _q("rdf", "li")).text = entry
    ET.indent(tree, space=" ")
    body = ET.tostring(root, encoding="unicode")
    text = (_PACKET_BEGIN + body + _PACKET_END) if (not original or "<?xpacket" in original) \
        else body + "\n"
    # A short temporary name: the sidecar's own name may already be near the file
    # system's 255-byte limit.
    digest = hashlib.blake2b(os.fsencode(target.name), digest_size=6).hexdigest()
    tmp = target.with_name(f".{digest}.xmp.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, target)
    except BaseException:
        # (the temporary name itself may be what the file system refuses)
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise
    return target


def read_tags(photo: str | os.PathLike[str]) -> tuple[list[str], list[str]]:
    """(dc:subject values, lr:hierarchicalSubject values) of the photo's sidecars: for a RAW
    file both ``NAME.xmp`` and ``NAME.EXT.xmp``, each value once."""
    subjects: list[str] = []
    hierarchical: list[str] = []
    for target in sidecar_paths(photo):
        if target.exists():
            _read_into(target, subjects, hierarchical)
    return list(dict.fromkeys(subjects)), list(dict.fromkeys(hierarchical))


def _read_into(target: Path, subjects: list[str], hierarchical: list[str]) -> None:
    root = _parse(target).getroot()
    for desc in root.iter(_q("rdf", "Description")):
        for prop, out in ((_q("dc", "subject"), subjects),
                          (_q("lr", "hierarchicalSubject"), hierarchical)):
            holder = desc.find(prop)
            if holder is not None:
                out += [li.text or "" for li in holder.iter(_q("rdf", "li"))]
