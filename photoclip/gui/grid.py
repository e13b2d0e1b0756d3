"""The photo grid: thumbnails in rows that use the whole width, under date headers.

A ``QAbstractItemView`` of our own rather than a ``QListView`` in icon mode, because the
timeline needs full-width section headers between runs of thumbnails, which icon mode
cannot lay out, and because every geometry here is arithmetic: the row of a photo, the
photo under the mouse and the cells to paint come from a few multiplications and one
bisection over the sections, whatever the number of photos. Selection (click, Ctrl, Shift,
a rubber band, Ctrl+A) and keyboard movement come from ``QAbstractItemView``.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PySide6.QtCore import QItemSelection, QItemSelectionModel, QModelIndex, QPoint, QRect, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPalette, QPen, QRegion
from PySide6.QtWidgets import QAbstractItemView, QWidget

from photoclip.core.catalog import Photo
from photoclip.gui.models import ScoreRole
from photoclip.gui.timeline import Section

MARGIN = 10        # around the grid
GAP = 6            # the smallest gap between cells
CAPTION = 20       # caption line under a thumbnail
PAD = 4            # inside a cell, around the thumbnail


def cell_shape(photos: Sequence[Photo]) -> float:
    """How tall the grid's thumbnail box is for these photos, as a share of its width.

    As tall as nine photos in ten need, between 1:2 and square: a camera's landscape photos
    get a 3:4 box instead of standing in a square under an empty band (a quarter of every
    row), and a library with many portrait photos keeps square cells. The odd tall photo is
    drawn smaller. Runs with the query, off the GUI thread (photos of unknown size, not yet
    indexed, do not count).
    """
    ratios = np.fromiter((p.height / p.width for p in photos if p.width and p.height),
                         dtype=np.float64)
    if not ratios.size:
        return 1.0
    return float(np.clip(np.quantile(ratios, 0.9), 0.5, 1.0))


@dataclass
class _Layout:
    width: int = 0
    cols: int = 1
    cell_w: int = 0
    cell_h: int = 0
    box: int = 0                 # the width of the box a thumbnail is fitted into
    box_h: int = 0               # ...and its height (cell_shape of the photos shown)
    step_x: float = 0.0          # cell width plus the gap
    header_h: int = 0
    tops: list[int] | None = None     # y of each section's header
    starts: list[int] | None = None   # first row of each section
    height: int = 0
    sections: list[Section] | None = None   # what was laid out (the model may move on)
    rows: int = 0


_MOVE_KEYS = {Qt.Key.Key_Left, Qt.Key.Key_Right, Qt.Key.Key_Up, Qt.Key.Key_Down,
              Qt.Key.Key_Home, Qt.Key.Key_End, Qt.Key.Key_PageUp, Qt.Key.Key_PageDown}


class PhotoGridView(QAbstractItemView):
    """Thumbnails with aligned captions, optional date headers, a subtle score badge."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.thumb_size = 160
        self.shape = 1.0                 # the thumbnail box's height / width
        self.sections: list[Section] = []
        self.show_scores = True
        self._layout = _Layout()
        self._rubber: QRect | None = None
        self._press: QPoint | None = None
        # Shift extends from the anchor to the photo clicked or reached by the keys, in
        # the grid's reading order (as file managers and photo apps do), not the rectangle
        # between them that the base class would select.
        self._anchor: int | None = None
        self._extending = False
        self._captions: dict[tuple[str, int], str] = {}
        self._line_heights: dict[int, int] = {}   # first row of a line -> its height (a paint)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setMouseTracking(True)
        self.viewport().setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, False)
        bold = QFont(self.font())
        bold.setBold(True)
        bold.setPointSizeF(bold.pointSizeF() * 1.1)
        self._header_font = bold

    # -- configuration ---------------------------------------------------------------------

    def set_thumb_size(self, size: int) -> None:
        self.thumb_size = size
        self._relayout()

    def set_sections(self, sections: list[Section], shape: float = 1.0) -> None:
        self.sections = sections
        self.shape = shape
        self._relayout()

    def section_top(self, i: int) -> int:
        return self._layout.tops[i] if self._layout.tops else 0

    def scroll_to_section(self, i: int) -> None:
        if self._layout.tops and 0 <= i < len(self._layout.tops):
            self.verticalScrollBar().setValue(self._layout.tops[i])

    def current_section(self) -> int:
        """The section at the top of the viewport."""
        tops = self._layout.tops or []
        return max(0, bisect.bisect_right(tops, self.verticalOffset() + 1) - 1)

    # -- layout ----------------------------------------------------------------------------

    def _sections(self) -> list[Section]:
        n = self.model().rowCount() if self.model() is not None else 0
        if self.sections and sum(s.count for s in self.sections) == n:
            return self.sections
        return [Section("", "", 0, n, 0, None)] if n else []

    def _relayout(self) -> None:
        lay = _Layout()
        lay.width = max(1, self.viewport().width())
        usable = lay.width - 2 * MARGIN
        # Cells share the width evenly, as many as fit at about the chosen size: the
        # thumbnails grow or shrink a little rather than leave wide empty gutters.
        lay.cols = max(1, round((usable + GAP) / (self.thumb_size + 2 * PAD + GAP)))
        lay.cell_w = max(2 * PAD + 16, (usable - (lay.cols - 1) * GAP) // lay.cols)
        lay.box = lay.cell_w - 2 * PAD
        lay.box_h = max(16, round(lay.box * self.shape))
        lay.cell_h = lay.box_h + 2 * PAD + CAPTION
        lay.step_x = lay.cell_w + GAP
        sections = self._sections()
        lay.sections = sections
        lay.rows = sum(s.count for s in sections)
        headers = any(s.title for s in sections)
        lay.header_h = QFontMetrics(self._header_font).height() + 14 if headers else 0
        y = MARGIN
        lay.tops, lay.starts = [], []
        for s in sections:
            lay.tops.append(y)
            lay.starts.append(s.start)
            rows = -(-s.count // lay.cols)
            y += (lay.header_h if s.title else 0) + rows * (lay.cell_h + GAP)
        lay.height = y + MARGIN
        self._layout = lay
        self.updateGeometries()
        self.viewport().update()

    def updateGeometries(self) -> None:
        bar = self.verticalScrollBar()
        bar.setRange(0, max(0, self._layout.height - self.viewport().height()))
        bar.setPageStep(self.viewport().height())
        bar.setSingleStep(max(20, self._layout.cell_h // 3))
        super().updateGeometries()

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        if event.size().width() != event.oldSize().width() or not self._layout.tops:
            current = self.currentIndex()
            self._relayout()
            if current.isValid():
                self.scrollTo(current)
        else:
            self.updateGeometries()

    def _section_of_row(self, row: int) -> int:
        return max(0, bisect.bisect_right(self._layout.starts or [0], row) - 1)

    def _cell_rect(self, row: int) -> QRect:
        """Where ``row`` is drawn, in content coordinates (not scrolled).

        Everything here reads the layout as it was made, never the model directly: while
        the model is changing (rows removed, the new sections not yet given), Qt asks for
        geometry, and a half-updated answer would be wrong or out of range.
        """
        lay = self._layout
        sections = lay.sections or []
        if not sections or not 0 <= row < lay.rows:
            return QRect()
        i = self._section_of_row(row)
        s = sections[i]
        offset = row - s.start
        r, c = divmod(offset, lay.cols)
        y = lay.tops[i] + (lay.header_h if s.title else 0) + r * (lay.cell_h + GAP)
        x = MARGIN + round(c * lay.step_x)
        return QRect(x, y, lay.cell_w, lay.cell_h)

    # -- QAbstractItemView -----------------------------------------------------------------

    def visualRect(self, index: QModelIndex) -> QRect:
        if not index.isValid():
            return QRect()
        return self._cell_rect(index.row()).translated(0, -self.verticalOffset())

    def _row_at(self, x: int, y: int) -> int | None:
        """The row drawn at content point (x, y), or None (a header, a gap, past the end)."""
        lay = self._layout
        tops = lay.tops or []
        i = bisect.bisect_right(tops, y) - 1
        sections = lay.sections or []
        if not 0 <= i < len(sections):
            return None
        s = sections[i]
        y -= tops[i] + (lay.header_h if s.title else 0)
        if y < 0:
            return None
        r = y // (lay.cell_h + GAP)
        if y - r * (lay.cell_h + GAP) > lay.cell_h:
            return None
        c = int((x - MARGIN) // lay.step_x) if lay.step_x else 0
        if c < 0 or c >= lay.cols or x - MARGIN - c * lay.step_x > lay.cell_w:
            return None
        offset = r * lay.cols + c
        return s.start + offset if offset < s.count else None

    def indexAt(self, point: QPoint) -> QModelIndex:
        row = self._row_at(point.x(), point.y() + self.verticalOffset())
        return self.model().index(row, 0) if row is not None else QModelIndex()

    def scrollTo(self, index: QModelIndex,
                 hint: QAbstractItemView.ScrollHint = QAbstractItemView.ScrollHint.EnsureVisible
                 ) -> None:
        if not index.isValid():
            return
        rect = self._cell_rect(index.row())
        bar = self.verticalScrollBar()
        top, height = bar.value(), self.viewport().height()
        section_top = (self._layout.tops or [0])[self._section_of_row(index.row())]
        if hint == QAbstractItemView.ScrollHint.PositionAtTop:
            bar.setValue(rect.top() - GAP)
        elif hint == QAbstractItemView.ScrollHint.PositionAtCenter:
            bar.setValue(rect.center().y() - height // 2)
        elif rect.top() < top:
            # Show the date header too when the photo is the first row of its section.
            near = rect.top() - section_top <= self._layout.header_h + self._layout.cell_h
            bar.setValue((section_top if near else rect.top()) - GAP)
        elif rect.bottom() > top + height:
            bar.setValue(rect.bottom() - height + GAP)

    def moveCursor(self, action: QAbstractItemView.CursorAction,
                   modifiers: Qt.KeyboardModifier) -> QModelIndex:
        model = self.model()
        n = model.rowCount() if model is not None else 0
        if not n:
            return QModelIndex()
        current = self.currentIndex()
        row = current.row() if current.isValid() else 0
        Action = QAbstractItemView.CursorAction
        if action in (Action.MoveLeft, Action.MovePrevious):
            row -= 1
        elif action in (Action.MoveRight, Action.MoveNext):
            row += 1
        elif action in (Action.MoveUp, Action.MoveDown):
            rect = self._cell_rect(row)
            dy = (self._layout.cell_h + GAP) * (1 if action == Action.MoveDown else -1)
            row = self._nearest_row(rect.center().x(), rect.center().y() + dy, row, dy)
        elif action in (Action.MovePageUp, Action.MovePageDown):
            rect = self._cell_rect(row)
            page = self.viewport().height() * (1 if action == Action.MovePageDown else -1)
            row = self._nearest_row(rect.center().x(), rect.center().y() + page, row, page)
        elif action == Action.MoveHome:
            row = 0
        elif action == Action.MoveEnd:
            row = n - 1
        return model.index(max(0, min(n - 1, row)), 0)

    def _nearest_row(self, x: int, y: int, row: int, direction: int) -> int:
        """The photo nearest (x, y) going ``direction``: across headers and short rows."""
        lay = self._layout
        for _ in range(64):   # skip a header or a gap at most a few rows deep
            if y < 0 or y > lay.height:
                break
            hit = self._row_at(x, y)
            if hit is not None:
                return hit
            # A short last row: take the last photo of the row under (x, y).
            hit = self._row_at(MARGIN + 1, y)
            if hit is not None:
                s = (lay.sections or [])[self._section_of_row(hit)]
                return min(s.start + s.count - 1, hit + lay.cols - 1)
            y += (lay.cell_h // 2) * (1 if direction > 0 else -1)
        n = self.model().rowCount()
        return n - 1 if direction > 0 else 0 if y < 0 else row

    def horizontalOffset(self) -> int:
        return 0

    def verticalOffset(self) -> int:
        return self.verticalScrollBar().value()

    def isIndexHidden(self, index: QModelIndex) -> bool:
        return False

    def setSelection(self, rect: QRect, command: QItemSelectionModel.SelectionFlag) -> None:
        rect = rect.normalized().translated(0, self.verticalOffset())
        selection = QItemSelection()
        model = self.model()
        for first, last in self._rows_in(rect):
            selection.select(model.index(first, 0), model.index(last, 0))
        self.selectionModel().select(selection, command)

    def _rows_in(self, rect: QRect) -> list[tuple[int, int]]:
        """Runs (first, last) of rows whose cells meet ``rect`` (content coordinates)."""
        lay = self._layout
        runs: list[tuple[int, int]] = []
        sections = lay.sections or []
        tops = lay.tops or []
        first_col = max(0, int((rect.left() - MARGIN) // lay.step_x)) if lay.step_x else 0
        last_col = min(lay.cols - 1, int((rect.right() - MARGIN) // lay.step_x)
                       if lay.step_x else 0)
        i = max(0, bisect.bisect_right(tops, rect.top()) - 1)
        while i < len(sections) and tops[i] <= rect.bottom():
            s = sections[i]
            body = tops[i] + (lay.header_h if s.title else 0)
            rows = -(-s.count // lay.cols)
            r0 = max(0, (rect.top() - body) // (lay.cell_h + GAP))
            r1 = min(rows - 1, (rect.bottom() - body) // (lay.cell_h + GAP))
            for r in range(r0, r1 + 1):
                lo = s.start + r * lay.cols + first_col
                hi = min(s.start + r * lay.cols + last_col, s.start + s.count - 1)
                if lo <= hi:
                    cell = self._cell_rect(lo)
                    if cell.bottom() >= rect.top() and cell.top() <= rect.bottom():
                        runs.append((lo, hi))
            i += 1
        return runs

    def visualRegionForSelection(self, selection: QItemSelection) -> QRegion:
        region = QRegion()
        top, bottom = self.verticalOffset(), self.verticalOffset() + self.viewport().height()
        for rng in selection:
            for row in range(rng.top(), rng.bottom() + 1):
                rect = self._cell_rect(row)
                if rect.bottom() >= top and rect.top() <= bottom:
                    region += rect.translated(0, -top)
        return region

    def scrollContentsBy(self, dx: int, dy: int) -> None:
        self.viewport().scroll(dx, dy)

    # -- model changes ---------------------------------------------------------------------

    def reset(self) -> None:
        super().reset()
        self._relayout()

    def rowsInserted(self, parent: QModelIndex, start: int, end: int) -> None:
        super().rowsInserted(parent, start, end)
        self._relayout()

    def dataChanged(self, top: QModelIndex, bottom: QModelIndex, roles: Any = ()) -> None:
        # Repaint only the visible cells of the range (a thumbnail arrived, a row changed).
        first = max(top.row(), 0)
        last = bottom.row()
        if last - first > 2000:
            self.viewport().update()
            return
        offset, height = self.verticalOffset(), self.viewport().height()
        for row in range(first, last + 1):
            rect = self._cell_rect(row).translated(0, -offset)
            if rect.bottom() >= 0 and rect.top() <= height:
                self.viewport().update(rect)

    def setModel(self, model: Any) -> None:
        super().setModel(model)
        model.rowsRemoved.connect(lambda *_a: self._relayout())
        model.layoutChanged.connect(lambda *_a: self._relayout())
        self._relayout()

    # -- Shift: a range from the anchor ---------------------------------------------------

    def currentChanged(self, current: QModelIndex, previous: QModelIndex) -> None:
        super().currentChanged(current, previous)
        if not self._extending or self._anchor is None:
            self._anchor = current.row() if current.isValid() else None

    def _select_range(self, to_row: int, add: bool) -> None:
        anchor = self._anchor if self._anchor is not None else to_row
        lo, hi = sorted((anchor, to_row))
        model = self.model()
        flags = QItemSelectionModel.SelectionFlag
        self.selectionModel().select(QItemSelection(model.index(lo, 0), model.index(hi, 0)),
                                     flags.Select if add else flags.ClearAndSelect)

    def keyPressEvent(self, event: Any) -> None:
        self._extending = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        try:
            super().keyPressEvent(event)
        finally:
            self._extending = False
        if event.modifiers() & Qt.KeyboardModifier.ShiftModifier and \
                self.currentIndex().isValid() and event.key() in _MOVE_KEYS:
            self._select_range(self.currentIndex().row(),
                               bool(event.modifiers() & Qt.KeyboardModifier.ControlModifier))

    # -- mouse: the rubber band ------------------------------------------------------------

    def mousePressEvent(self, event: Any) -> None:
        index = self.indexAt(event.position().toPoint())
        if (event.button() == Qt.MouseButton.LeftButton and index.isValid()
                and event.modifiers() & Qt.KeyboardModifier.ShiftModifier
                and self._anchor is not None):
            self._extending = True
            try:
                self.selectionModel().setCurrentIndex(
                    index, QItemSelectionModel.SelectionFlag.NoUpdate)
            finally:
                self._extending = False
            self._select_range(index.row(),
                               bool(event.modifiers() & Qt.KeyboardModifier.ControlModifier))
            self._press = None
            event.accept()
            return
        self._press = event.position().toPoint() + QPoint(0, self.verticalOffset())
        self._rubber = None
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: Any) -> None:
        super().mouseMoveEvent(event)
        if self._press is not None and event.buttons() & Qt.MouseButton.LeftButton:
            now = event.position().toPoint() + QPoint(0, self.verticalOffset())
            if (now - self._press).manhattanLength() > 4:
                self._rubber = QRect(self._press, now).normalized()
                self.viewport().update()

    def mouseReleaseEvent(self, event: Any) -> None:
        super().mouseReleaseEvent(event)
        self._press = None
        if self._rubber is not None:
            self._rubber = None
            self.viewport().update()

    # -- painting --------------------------------------------------------------------------

    def paintEvent(self, event: Any) -> None:
        painter = QPainter(self.viewport())
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        pal = self.palette()
        painter.fillRect(event.rect(), pal.base())
        offset = self.verticalOffset()
        visible = QRect(0, offset + event.rect().top(), self.viewport().width(),
                        event.rect().height())
        lay = self._layout
        sections = lay.sections or []
        model = self.model()
        if model is None or not sections or model.rowCount() < lay.rows:
            return
        selection = self.selectionModel()
        root = self.rootIndex()
        current = self.currentIndex().row() if self.currentIndex().isValid() else -1
        fm = QFontMetrics(self.font())
        self._line_heights.clear()
        tops = lay.tops or []
        i = max(0, bisect.bisect_right(tops, visible.top()) - 1)
        painter.translate(0, -offset)
        while i < len(sections) and tops[i] <= visible.bottom():
            s = sections[i]
            if s.title:
                painter.setFont(self._header_font)
                painter.setPen(pal.color(QPalette.ColorRole.Text))
                painter.drawText(QRect(MARGIN, tops[i], lay.width - 2 * MARGIN,
                                       lay.header_h - 4),
                                 Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom,
                                 s.header)
                painter.setFont(self.font())
            for first, last in self._rows_in(visible.intersected(
                    QRect(0, tops[i], lay.width, lay.height))):
                for row in range(first, last + 1):
                    if row < s.start or row >= s.start + s.count:
                        continue
                    self._paint_cell(painter, self._cell_rect(row), row,
                                     selection.isRowSelected(row, root), row == current, fm,
                                     pal)
            i += 1
        if self._rubber is not None:
            color = pal.color(QPalette.ColorRole.Highlight)
            painter.setPen(QPen(color, 1))
            fill = QColor(color)
            fill.setAlpha(50)
            painter.setBrush(fill)
            painter.drawRect(self._rubber)

    def _cell_data(self, row: int, size: int) -> tuple[Any, str, float | None]:
        model = self.model()
        if hasattr(model, "cell"):
            return model.cell(row, size)
        index = model.index(row, 0)
        return (index.data(Qt.ItemDataRole.DecorationRole),
                index.data(Qt.ItemDataRole.DisplayRole) or "", index.data(ScoreRole))

    def _caption(self, text: str, width: int, fm: QFontMetrics) -> str:
        key = (text, width)
        elided = self._captions.get(key)
        if elided is None:
            elided = fm.elidedText(text, Qt.TextElideMode.ElideMiddle, width)
            if len(self._captions) >= 5000:
                self._captions.clear()
            self._captions[key] = elided
        return elided

    def _row_height(self, row: int, box: QRect) -> int:
        """How tall the tallest photo of ``row``'s line of the grid is drawn: the line's
        photos stand on that height, so a line of landscape photos in square cells starts
        at the top with its captions under it, instead of under an empty band."""
        lay = self._layout
        photo_of = getattr(self.model(), "photo", None)
        sections = lay.sections or []
        if photo_of is None or not sections:
            return box.height()
        s = sections[self._section_of_row(row)]
        first = s.start + (row - s.start) // lay.cols * lay.cols
        known = self._line_heights.get(first)
        if known is not None:
            return known
        tallest = 0
        for r in range(first, min(first + lay.cols, s.start + s.count)):
            p = photo_of(r)
            if p is None or not p.width or not p.height:
                tallest = box.height()   # not measured yet: as tall as the box
                break
            scale = min(box.width() / p.width, box.height() / p.height, 1.0)
            tallest = max(tallest, round(p.height * scale))
        self._line_heights[first] = height = max(1, min(tallest, box.height()))
        return height

    def _paint_cell(self, painter: QPainter, rect: QRect, row: int, selected: bool,
                    current: bool, fm: QFontMetrics, pal: QPalette) -> None:
        side = self._layout.box or self.thumb_size
        box = QRect(rect.left() + PAD, rect.top() + PAD, side, self._layout.box_h or side)
        baseline = box.top() + self._row_height(row, box) - 1
        pixmap, text, score = self._cell_data(row, side)
        target = box
        size = None
        if pixmap is not None and not pixmap.isNull():
            # The model fits thumbnails to a square of the box's width (a photo smaller
            # than it stays small); anything larger than the box is scaled down here.
            size = pixmap.size()
            if size.width() > box.width() or size.height() > box.height():
                size = size.scaled(box.size(), Qt.AspectRatioMode.KeepAspectRatio)
            target = QRect(0, 0, size.width(), size.height())
            target.moveCenter(box.center())
            target.moveBottom(baseline)   # the photos of a line stand on one line
        # The selection hugs the photo and its caption: over the whole cell, a landscape
        # photo stood under an empty coloured band.
        hug = QRect(QPoint(rect.left(), target.top() - PAD),
                    QPoint(rect.right(), min(rect.bottom(), baseline + CAPTION + PAD)))
        if selected:
            color = pal.color(QPalette.ColorRole.Highlight)
            color.setAlpha(60)
            painter.fillRect(hug, color)
            painter.setPen(QPen(pal.color(QPalette.ColorRole.Highlight), 2))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(hug.adjusted(1, 1, -1, -1), 3, 3)
        if pixmap is not None and size is not None:
            if size == pixmap.size():
                painter.drawPixmap(target.topLeft(), pixmap)
            else:
                painter.drawPixmap(target, pixmap)
        caption = self._caption(text, rect.width() - 2 * PAD, fm)
        painter.setPen(pal.color(QPalette.ColorRole.Text))
        painter.drawText(QRect(rect.left() + PAD, baseline + 2, rect.width() - 2 * PAD,
                               CAPTION), Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop,
                         caption)
        if self.show_scores and score is not None:
            text = f"{score:.2f}"
            badge = QRect(0, 0, fm.horizontalAdvance(text) + 8, fm.height())
            badge.moveTopRight(QPoint(target.right() - 3, target.top() + 3))
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(0, 0, 0, 130))
            painter.drawRoundedRect(badge, 4, 4)
            painter.setPen(QColor(255, 255, 255))
            painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, text)
        if current and self.hasFocus() and not selected:
            pen = QPen(pal.color(QPalette.ColorRole.Highlight), 1, Qt.PenStyle.DashLine)
            painter.setPen(pen)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(hug.adjusted(1, 1, -1, -1))
