"""Stage 2 screen: one query tracklet, the other camera's candidates ranked beside it.

Left: the query as a strip of crops (its frame on demand, C), with the same-camera
tracklets that could continue it (to merge, M). Right: candidate tracklets of the other
camera inside the time window, best first, numbered 1–9: a digit links, 0/N says "no
match", Space goes to the next undecided query. Linking advances to the next query at
once; undo brings the annotator back to the query whose decision was undone.

The view never decides anything itself: edits go to the :class:`MatchingDocument`,
pixels and ranking to the :class:`AppearanceService` worker, and the numbers on screen
only appear once the ranking for *this* query is in, so a digit can never pick from a
list that is still moving.
"""
from __future__ import annotations

import time

from PyQt6.QtCore import QPoint, Qt
from PyQt6.QtGui import QImage
from PyQt6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QScrollArea,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from schemas import COLORS, TYPES, Attributes
from vrai_tools.matching_rules import DEFAULT_WINDOW, Candidate

from ..document import BaseDocument, EditRefused
from ..stages.base import StageView
from ..wiring import DocumentWiring
from .document import MatchingDocument
from .options import MODEL_ENV, model_run, set_model_run  # noqa: F401  (set_model_run: the app's --model)
from .ranking import AppearanceService
from .review import ReviewPanel
from .strips import GREEN, GREY, ORANGE, RED, CandidateRow, CropStrip, FramePicture, spread

IDLE_CAP = 30.0  # seconds; a longer pause in front of one query is not counted as work
KEYED = 9

HINT = ("<b>1–9</b> same vehicle as candidate k · <b>0 / N</b> no match · <b>Space</b> next query · "
        "<b>U</b> unlink · <b>Q</b> uncertain · <b>S</b> swap cameras · <b>W</b> wider window · "
        "<b>R</b> review · <b>C</b> frames · <b>K</b> split · <b>M</b> merge · <b>F1</b> all keys")


class QueryClock:
    """Seconds of work per query: gaps between the annotator's actions, each capped."""

    def __init__(self) -> None:
        self._last = time.monotonic()
        self._spent: dict[str, float] = {}

    def tick(self, query: str | None) -> None:
        now = time.monotonic()
        if query is not None:
            self._spent[query] = self._spent.get(query, 0.0) + min(now - self._last, IDLE_CAP)
        self._last = now

    def take(self, query: str) -> float:
        self.tick(query)
        return round(self._spent.pop(query, 0.0), 3)


class MatchingView(StageView):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc: MatchingDocument | None = None
        self.service: AppearanceService | None = None
        self._wiring = DocumentWiring()
        self.camera = "A"  # the query camera
        self.query: str | None = None
        self.window = DEFAULT_WINDOW
        self.colour_filter: str | None = None
        self.type_filter: str | None = None
        self.generation = 0
        self.ranked: list[str] | None = None  # pickable candidates, best first; None while ranking
        self.scores: dict[str, float] = {}
        self.cands: dict[str, Candidate] = {}
        self.hidden_by_filter = 0
        self.history: list[str] = []
        self.selected_neighbour: str | None = None
        self.context_visible = False
        self.clock = QueryClock()
        self._deciding = False
        self._frames: dict[tuple[str, int], QImage] = {}

        # header
        self.header = QLabel(self)
        self.header.setTextFormat(Qt.TextFormat.RichText)
        self.mode_label = QLabel(self)
        self.mode_label.setStyleSheet("color: #777")
        self.swap_button = QPushButton("Swap cameras (S)", self)
        self.swap_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.swap_button.clicked.connect(self.swap_direction)
        self.window_spin = QDoubleSpinBox(self)
        self.window_spin.setRange(0.5, 36000.0)
        self.window_spin.setDecimals(1)
        self.window_spin.setSuffix(" s window")
        self.window_spin.setValue(self.window)
        self.window_spin.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.window_spin.valueChanged.connect(self._window_changed)
        self.colour_combo = QComboBox(self)
        self.colour_combo.addItems(["any colour", *COLORS])
        self.type_combo = QComboBox(self)
        self.type_combo.addItems(["any type", *TYPES])
        for combo in (self.colour_combo, self.type_combo):
            combo.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
            combo.currentIndexChanged.connect(self._filters_changed)
        top = QHBoxLayout()
        top.addWidget(self.header, 1)
        top.addWidget(self.colour_combo)
        top.addWidget(self.type_combo)
        top.addWidget(self.window_spin)
        top.addWidget(self.swap_button)

        # left: the query
        self.query_title = QLabel(self)
        self.query_title.setTextFormat(Qt.TextFormat.RichText)
        self.query_strip = CropStrip(self._image, 96, 10, self)
        self.query_strip.clicked.connect(self._query_crop_clicked)
        self.query_strip.menuRequested.connect(self._query_menu)
        self.query_info = QLabel(self)
        self.query_info.setTextFormat(Qt.TextFormat.RichText)
        self.query_info.setWordWrap(True)
        self.neighbour_box = QVBoxLayout()
        self.neighbour_rows: dict[str, CandidateRow] = {}
        neighbours = QWidget(self)
        neighbours.setLayout(self.neighbour_box)
        self.context_query = FramePicture(self)
        self.context_cand = FramePicture(self)
        self.context = QWidget(self)
        ctx_layout = QVBoxLayout(self.context)
        ctx_layout.setContentsMargins(0, 0, 0, 0)
        ctx_layout.addWidget(self.context_query, 1)
        ctx_layout.addWidget(self.context_cand, 1)
        self.context.setVisible(False)
        left = QWidget(self)
        ll = QVBoxLayout(left)
        ll.addWidget(self.query_title)
        ll.addWidget(self.query_strip)
        ll.addWidget(self.query_info)
        ll.addWidget(QLabel("<b>Same camera, not overlapping</b> — click one, then <b>M</b> merges it into the "
                            "query", self))
        ll.addWidget(neighbours)
        ll.addWidget(self.context, 1)
        ll.addStretch(0)

        # right: candidates
        self.cand_title = QLabel(self)
        self.cand_title.setTextFormat(Qt.TextFormat.RichText)
        self.rows: dict[str, CandidateRow] = {}
        self.rows_widget = QWidget(self)
        self.rows_layout = QVBoxLayout(self.rows_widget)
        self.rows_layout.setContentsMargins(0, 0, 0, 0)
        self.rows_layout.setSpacing(3)
        self.rows_layout.addStretch(1)
        self.scroll = QScrollArea(self)
        self.scroll.setWidgetResizable(True)
        self.scroll.setWidget(self.rows_widget)
        self.scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        right = QWidget(self)
        rl = QVBoxLayout(right)
        rl.addWidget(self.cand_title)
        rl.addWidget(self.scroll, 1)

        splitter = QSplitter(self)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)

        self.review = ReviewPanel(self._image, self)
        self.review.openRequested.connect(self._open_from_review)
        self.review.uncertainOnly.stateChanged.connect(lambda _s: self.review.refresh())
        self.pages = QStackedWidget(self)
        self.pages.addWidget(splitter)
        self.pages.addWidget(self.review)

        hint = QLabel(HINT, self)
        hint.setWordWrap(True)
        hint.setStyleSheet("color: #555")
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.mode_label)
        layout.addWidget(self.pages, 1)
        layout.addWidget(hint)

    # ------------------------------------------------------------------ document
    def set_document(self, doc: BaseDocument) -> None:
        assert isinstance(doc, MatchingDocument)
        self.clear_document()
        self.doc = doc
        assert doc.root is not None
        w = self._wiring
        self.service = s = w.own(AppearanceService(doc.root, doc.ctx, model_run(), parent=self))
        w.connect(s.cropsReady, self._crops_ready)
        w.connect(s.ranked, self._ranked)
        w.connect(s.frameReady, self._frame_ready)
        w.connect(s.message, self.status.emit)
        self.review.set_document(doc, self.service)
        w.connect(doc.matchingChanged, self._doc_changed)
        self.history = []
        self.camera = "A" if "A" in doc.ctx.clips else next(iter(doc.ctx.clips), "A")
        self.query = doc.next_undecided(self.camera) or next(iter(doc.query_order(self.camera)), None)
        self.pages.setCurrentIndex(0)
        for note in doc.sync_notes:
            self.status.emit(note)
        self.mode_label.setText(f"Ranking: {self.service.describe_mode()} · clock: {doc.ctx.clock_source}")
        self._show_query()
        self.setFocus()

    def clear_document(self) -> None:
        self._wiring.release()
        self.doc = None
        self.service = None
        self.query = None
        self.review.clear_document()
        self._clear_rows()
        self._clear_neighbours()
        self._frames.clear()

    # ------------------------------------------------------------------ helpers
    def _image(self, key: str) -> QImage | None:
        return self.service.image(key) if self.service is not None else None

    def say(self, text: str) -> None:
        self.status.emit(text)

    def _other(self) -> str:
        return "B" if self.camera == "A" else "A"

    def _keys(self, tid: str) -> list[str]:
        assert self.doc is not None
        return [k for k in self.doc.tracklet(tid).instances if k in self.doc.ctx.instances]

    def known_attributes(self, tid: str) -> Attributes:
        """The vehicle's attributes, else the ones most instances of the tracklet carry."""
        assert self.doc is not None
        v = self.doc.vehicle_of(tid)
        base = v.attributes if v is not None else Attributes()
        votes: dict[str, dict[object, int]] = {"color": {}, "type": {}}
        for key in self._keys(tid):
            attrs = self.doc.ctx.instances[key].attributes
            for field in votes:
                value = getattr(attrs, field)
                if value is not None:
                    votes[field][value] = votes[field].get(value, 0) + 1
        own = {f: max(c, key=lambda x: c[x]) for f, c in votes.items() if c}
        return Attributes(**own).merged_over(base) if own else base

    def _passes_filters(self, tid: str) -> bool:
        if self.colour_filter is None and self.type_filter is None:
            return True
        a = self.known_attributes(tid)
        if self.colour_filter is not None and a.color is not None and a.color != self.colour_filter:
            return False
        return not (self.type_filter is not None and a.type is not None and a.type != self.type_filter)

    def _span_text(self, tid: str) -> str:
        assert self.doc is not None
        t0, t1 = self.doc.ctx.span(self.doc.tracklet(tid))
        return f"{t0:.1f}–{t1:.1f} s"

    def _decision_text(self, tid: str) -> str:
        assert self.doc is not None
        t = self.doc.tracklet(tid)
        v = self.doc.vehicle_of(tid)
        if t.no_match:
            text = "<span style='color:#888'>decided: no match</span>"
        elif v is not None and self.doc.is_decided(tid):
            others = [x for x in v.tracklets if self.doc.tracklet(x).clip_id != t.clip_id]
            text = f"<span style='color:#2e9e5a'>vehicle {v.id}</span> with {', '.join(others)}"
        else:
            text = "<b>undecided</b>"
        if v is not None and v.uncertain:
            text += " <span style='color:#d68910'>(uncertain)</span>"
        return text

    # ------------------------------------------------------------------ showing a query
    def _show_query(self) -> None:
        doc = self.doc
        if doc is None:
            return
        self.generation += 1
        if self.service is not None:
            self.service.latest_generation = self.generation
        self.ranked = None
        self.scores = {}
        if self.query is not None and not doc.has_tracklet(self.query):
            self.query = None
        if self.query is None:
            self.query = doc.next_undecided(self.camera) or next(iter(doc.query_order(self.camera)), None)
        self._update_header()
        if self.query is None:
            self.query_title.setText(f"<b>Camera {self.camera} has no tracklets</b> (no boxes from stage 1?)")
            self.query_strip.set_keys([])
            self.query_info.setText("")
            self.cand_title.setText("")
            self._clear_rows()
            self._clear_neighbours()
            return
        q = self.query
        keys = self._keys(q)
        self.query_title.setText(f"<b>Query · camera {self.camera}</b> · {q} · {len(keys)} boxes · "
                                 f"{self._span_text(q)}")
        self.query_strip.set_keys(keys)
        self.query_info.setText(self._decision_text(q))
        self._fill_neighbours()
        all_cands = doc.candidates(q, self.window)
        shown = [c for c in all_cands if c.linked or self._passes_filters(c.tracklet)]
        self.hidden_by_filter = len(all_cands) - len(shown)
        self.cands = {c.tracklet: c for c in shown}
        want = list(self.query_strip.keys)
        for c in shown:
            want.extend(spread(self._keys(c.tracklet), 8))
        assert self.service is not None
        self.service.request_crops(want)
        pickable = {c.tracklet: self._keys(c.tracklet) for c in shown if c.excluded is None}
        scores = self.service.try_rank(keys, pickable)
        if scores is not None:
            self._apply_scores(scores)
        else:
            self._layout_rows()
            self.service.rank(self.generation, q, keys, pickable)
        self._prefetch_next()
        if self.context_visible:
            self._update_context()
        self.info.emit(self._info_text())

    def _prefetch_next(self) -> None:
        doc, service = self.doc, self.service
        if doc is None or service is None or self.query is None:
            return
        nxt = doc.next_undecided(self.camera, after=self.query)
        if nxt is None or nxt == self.query:
            return
        pickable = {c.tracklet: self._keys(c.tracklet) for c in doc.candidates(nxt, self.window)
                    if c.excluded is None}
        service.rank(0, nxt, self._keys(nxt), pickable, priority=0)
        more = spread(self._keys(nxt), 10)
        for tid in pickable:
            more.extend(spread(self._keys(tid), 8))
        service.request_crops(more, priority=0)

    def _ranked(self, generation: int, query: str, scores: list[tuple[str, float]]) -> None:
        if generation != self.generation or query != self.query:
            return
        self._apply_scores(scores)

    def _apply_scores(self, scores: list[tuple[str, float]]) -> None:
        self.scores = dict(scores)
        order = [tid for tid, _ in scores if tid in self.cands]
        self.ranked = order
        self._layout_rows()

    def _update_header(self) -> None:
        doc = self.doc
        if doc is None:
            return
        done, total = doc.progress()
        order = doc.query_order(self.camera)
        pos = order.index(self.query) + 1 if self.query in order else 0
        self.header.setText(f"<b>Pair {doc.pair_id}</b> · queries from camera <b>{self.camera}</b>, candidates "
                            f"from camera <b>{self._other()}</b> · query {pos}/{len(order)} · "
                            f"{done}/{total} tracklets decided")

    def _info_text(self) -> str:
        doc = self.doc
        if doc is None:
            return ""
        done, total = doc.progress()
        return f"pair {doc.pair_id} · query {self.query or '–'} (camera {self.camera}) · {done}/{total} decided"

    # ------------------------------------------------------------------ candidate rows
    def _clear_rows(self) -> None:
        for row in self.rows.values():
            row.setParent(None)
            row.deleteLater()
        self.rows = {}

    def _layout_rows(self) -> None:
        """Rows in rank order (time order while ranking), excluded ones last and greyed."""
        for row in self.rows.values():
            self.rows_layout.removeWidget(row)
        wanted = set(self.cands)
        for tid in [t for t in self.rows if t not in wanted]:
            row = self.rows.pop(tid)
            row.setParent(None)
            row.deleteLater()
        if self.ranked is not None:
            pickable = [t for t in self.ranked if self.cands[t].excluded is None]
        else:
            pickable = [t for t in self.cands if self.cands[t].excluded is None]
        order = pickable + [t for t in self.cands if self.cands[t].excluded is not None]
        for i, tid in enumerate(order):
            row = self.rows.get(tid)
            if row is None:
                row = CandidateRow(tid, self._image, 64, self.rows_widget)
                row.picked.connect(self._row_clicked)
                self.rows[tid] = row
            number = i + 1 if self.ranked is not None and i < KEYED and tid in pickable else None
            self._style_row(row, self.cands[tid], number)
            self.rows_layout.insertWidget(i, row)
        n = len(pickable)
        state = "ranking…" if self.ranked is None else f"best first ({self.service.describe_mode() if self.service else ''})"
        extra = f" · {self.hidden_by_filter} hidden by filters (Esc clears)" if self.hidden_by_filter else ""
        self.cand_title.setText(f"<b>Candidates · camera {self._other()}</b> · {n} within ±{self.window:g} s · "
                                f"{state}{extra}")

    def _style_row(self, row: CandidateRow, c: Candidate, number: int | None) -> None:
        keys = self._keys(c.tracklet)
        bits = [f"<b>{c.tracklet}</b>", f"{len(keys)} boxes · {self._span_text(c.tracklet)}",
                "overlaps in time" if c.gap == 0 else f"{c.gap:.1f} s apart"]
        score = self.scores.get(c.tracklet)
        if score is not None and score != float("-inf"):
            bits.append(f"similarity {score:.2f}")
        colour = None
        if c.linked:
            bits.append("<span style='color:#2e9e5a'><b>✓ linked to the query</b></span>")
            colour = GREEN
        elif c.excluded is not None:
            bits.append(f"<span style='color:#c0392b'>cannot match: {c.excluded}</span>")
            colour = RED
        elif c.taken_by is not None:
            bits.append(f"<span style='color:#d68910'>taken by vehicle {c.taken_by}</span>")
            colour = ORANGE
        elif c.no_match:
            bits.append("<span style='color:#888'>marked: no match</span>")
            colour = GREY
        a = self.known_attributes(c.tracklet)
        if a.color or a.type:
            bits.append(" ".join(x for x in (a.color, a.type) if x))
        row.set_state(number, keys, "<br>".join(bits), colour, c.excluded is not None)

    def _crops_ready(self, keys: list[str]) -> None:
        self.query_strip.update()
        for row in self.rows.values():
            row.strip.update()
        for row in self.neighbour_rows.values():
            row.strip.update()
        self.review.crops_ready()

    # ------------------------------------------------------------------ neighbours (merge/move targets)
    def _clear_neighbours(self) -> None:
        for row in self.neighbour_rows.values():
            row.setParent(None)
            row.deleteLater()
        self.neighbour_rows = {}

    def _fill_neighbours(self) -> None:
        self._clear_neighbours()
        doc = self.doc
        if doc is None or self.query is None:
            return
        tids = doc.neighbours(self.query, 4)
        if self.selected_neighbour not in tids:
            self.selected_neighbour = None
        for tid in tids:
            row = CandidateRow(tid, self._image, 36, self)
            row.picked.connect(self._neighbour_clicked)
            keys = self._keys(tid)
            gap = self._span_text(tid)
            row.set_state(None, keys, f"{tid} · {len(keys)} boxes · {gap}",
                          GREEN if tid == self.selected_neighbour else None, False)
            self.neighbour_box.addWidget(row)
            self.neighbour_rows[tid] = row
        if self.service is not None:
            self.service.request_crops([k for tid in tids for k in spread(self._keys(tid), 8)])

    def _neighbour_clicked(self, tid: str) -> None:
        self.selected_neighbour = tid
        for other, row in self.neighbour_rows.items():
            row.setStyleSheet(f"CandidateRow {{ border: 2px solid {GREEN.name()}; }}" if other == tid else "")
        self.say(f"selected {tid}: M merges it into the query, Shift+M moves the selected crop into it")

    # ------------------------------------------------------------------ context frames
    def _query_crop_clicked(self, key: str) -> None:
        if self.context_visible:
            self._update_context()

    def _frame_of(self, key: str) -> tuple[str, int]:
        assert self.doc is not None
        return key.rpartition(":")[0], self.doc.ctx.instances[key].frame

    def _update_context(self) -> None:
        doc, service = self.doc, self.service
        if doc is None or service is None or self.query is None:
            return
        pictures = [(self.context_query, self.query_strip.selected or self._middle(self.query), "query")]
        top = (self.ranked or [None])[0] if self.ranked else None
        pictures.append((self.context_cand, self._middle(top) if top else None, f"candidate 1 ({top})"))
        for picture, key, label in pictures:
            if key is None:
                picture.show_frame(None, (1, 1), None, "no candidate")
                continue
            clip_id, frame = self._frame_of(key)
            clip = doc.ctx.clips[doc.ctx.camera_of_clip[clip_id]]
            image = self._frames.get((clip_id, frame))
            if image is None:
                service.request_frame(clip_id, frame)
            picture.show_frame(image, (clip.width, clip.height), doc.ctx.instances[key].bbox,
                               f"{label}: {clip_id} frame {frame}" if image is not None else "")

    def _middle(self, tid: str) -> str | None:
        keys = self._keys(tid)
        return keys[len(keys) // 2] if keys else None

    def _frame_ready(self, clip_id: str, frame: int, image: QImage) -> None:
        self._frames[(clip_id, frame)] = image
        if len(self._frames) > 16:
            self._frames.pop(next(iter(self._frames)))
        if self.context_visible:
            self._update_context()

    # ------------------------------------------------------------------ changes
    def _doc_changed(self) -> None:
        doc = self.doc
        if doc is None or self._deciding:
            return
        # an undone decision brings its query back
        while self.history and not doc.has_tracklet(self.history[-1]):
            self.history.pop()
        if self.history and not doc.is_decided(self.history[-1]) and self.history[-1] != self.query:
            self.query = self.history.pop()
            self.camera = doc.camera_of(self.query)
        self._show_query()
        if self.pages.currentIndex() == 1:
            self.review.refresh()

    def _window_changed(self, value: float) -> None:
        self.window = float(value)
        self._show_query()

    def _filters_changed(self, *_: object) -> None:
        c, t = self.colour_combo.currentIndex(), self.type_combo.currentIndex()
        self.colour_filter = COLORS[c - 1] if c > 0 else None
        self.type_filter = TYPES[t - 1] if t > 0 else None
        self._show_query()

    def _open_from_review(self, tid: str) -> None:
        if self.doc is None:
            return
        self.camera = self.doc.camera_of(tid)
        self.query = tid
        self.pages.setCurrentIndex(0)
        self._show_query()

    def _advance(self, decided: str) -> None:
        doc = self.doc
        assert doc is not None
        self.history.append(decided)
        nxt = doc.next_undecided(self.camera, after=decided)
        if nxt is None:
            self.say(f"every query of camera {self.camera} is decided — S swaps cameras, R reviews the vehicles")
        else:
            self.query = nxt
        self._show_query()

    def _decide(self, action: str, *args: object) -> object:
        """Run one decision on the document; refusals become a status message."""
        assert self.doc is not None
        self._deciding = True
        try:
            return getattr(self.doc, action)(*args)
        except EditRefused as e:
            self.say(f"Not done: {e}")
            return None
        finally:
            self._deciding = False

    def _ready(self) -> bool:
        if self.doc is None or self.query is None:
            return False
        if self.pages.currentIndex() == 1:
            self.say("reviewing: R goes back to matching, Enter opens the selected vehicle")
            return False
        return True

    # ------------------------------------------------------------------ action handlers (see keys.py)
    def pick(self, k: int) -> None:
        if not self._ready():
            return
        if self.ranked is None:
            self.say("still ranking the candidates — press the key again in a moment")
            return
        pickable = [t for t in self.ranked if self.cands[t].excluded is None]
        if k < 1 or k > len(pickable):
            self.say(f"there is no candidate {k} ({len(pickable)} shown)")
            return
        self._pick_tid(pickable[k - 1])

    def _pick_tid(self, tid: str) -> None:
        assert self.doc is not None and self.query is not None
        q = self.query
        c = self.cands.get(tid)
        if c is None:
            return
        if c.linked:
            self.say(f"{tid} is already the same vehicle as {q}")
            self._advance(q)
            return
        if c.excluded is not None:
            self.say(f"cannot link {q} and {tid}: {c.excluded}")
            return
        vid = self._decide("link", q, tid, self.clock.take(q))
        if vid is not None:
            self.say(f"{q} ↔ {tid}: vehicle {vid}")
            self._advance(q)

    def _row_clicked(self, tid: str) -> None:
        if self._ready():
            self._pick_tid(tid)

    def pick_1(self) -> None:
        self.pick(1)

    def pick_2(self) -> None:
        self.pick(2)

    def pick_3(self) -> None:
        self.pick(3)

    def pick_4(self) -> None:
        self.pick(4)

    def pick_5(self) -> None:
        self.pick(5)

    def pick_6(self) -> None:
        self.pick(6)

    def pick_7(self) -> None:
        self.pick(7)

    def pick_8(self) -> None:
        self.pick(8)

    def pick_9(self) -> None:
        self.pick(9)

    def no_match(self) -> None:
        if not self._ready():
            return
        q = self.query
        assert q is not None
        vid = self._decide("set_no_match", q, self.clock.take(q))
        if vid is not None:
            self.say(f"{q}: no match in camera {self._other()} (vehicle {vid})")
            self._advance(q)

    def next_query(self) -> None:
        if self.pages.currentIndex() == 1:
            self.review.select_step(1)
            return
        if not self._ready():
            return
        assert self.doc is not None
        self.clock.tick(self.query)
        nxt = self.doc.next_undecided(self.camera, after=self.query)
        if nxt is None or nxt == self.query:
            order = self.doc.query_order(self.camera)
            if nxt is None and self.query in order and len(order) > 1:
                nxt = order[(order.index(self.query) + 1) % len(order)]
                self.say("no undecided query left: going through the decided ones")
            else:
                self.say("this is the only undecided query")
                return
        self.query = nxt
        self._show_query()

    def prev_query(self) -> None:
        if self.pages.currentIndex() == 1:
            self.review.select_step(-1)
            return
        if not self._ready():
            return
        assert self.doc is not None
        self.clock.tick(self.query)
        order = self.doc.query_order(self.camera)
        if self.query in order and len(order) > 1:
            self.query = order[(order.index(self.query) - 1) % len(order)]
            self._show_query()

    def unlink(self) -> None:
        if self.pages.currentIndex() == 1:
            v = self.review.selected_vehicle()
            if v is not None:
                self._decide("dissolve", v.id)
                self.review.refresh()
            return
        if not self._ready():
            return
        assert self.query is not None
        self._decide("unlink", self.query, self.clock.take(self.query))
        self.say(f"{self.query} is undecided again")
        self._show_query()

    def toggle_uncertain(self) -> None:
        tid: str | None
        if self.pages.currentIndex() == 1:
            v = self.review.selected_vehicle()
            tid = v.tracklets[0] if v is not None else None
        else:
            tid = self.query if self._ready() else None
        if tid is None or self.doc is None:
            return
        if self.doc.vehicle_of(tid) is None:
            self.say("decide first (a digit or N), then flag the decision as uncertain")
            return
        flag = self._decide("toggle_uncertain", tid)
        if flag is not None:
            self.say("flagged uncertain: it is listed for review (R)" if flag else "no longer uncertain")
        self._show_query()
        if self.pages.currentIndex() == 1:
            self.review.refresh()

    def swap_direction(self) -> None:
        """Queries from the other camera: its next undecided tracklet, else the current query's partner."""
        doc = self.doc
        if doc is None:
            return
        old = self.query
        self.camera = self._other()
        partner = None
        if old is not None:
            v = doc.vehicle_of(old)
            if v is not None:
                partner = next((t for t in v.tracklets if doc.camera_of(t) == self.camera), None)
        self.query = doc.next_undecided(self.camera) or partner or next(iter(doc.query_order(self.camera)), None)
        self.say(f"queries now come from camera {self.camera}")
        self._show_query()

    def widen_window(self) -> None:
        self.window_spin.setValue(min(self.window * 2, self.window_spin.maximum()))

    def narrow_window(self) -> None:
        self.window_spin.setValue(max(self.window / 2, self.window_spin.minimum()))

    def clear_filters(self) -> None:
        self.colour_combo.setCurrentIndex(0)
        self.type_combo.setCurrentIndex(0)

    def toggle_review(self) -> None:
        if self.doc is None:
            return
        if self.pages.currentIndex() == 0:
            self.pages.setCurrentIndex(1)
            self.review.refresh()
            self.say("review: Space/Shift+Space move, Enter opens, U dissolves, Q flags uncertain, R returns")
        else:
            self.pages.setCurrentIndex(0)
            self._show_query()

    def open_selected(self) -> None:
        if self.pages.currentIndex() != 1:
            return
        v = self.review.selected_vehicle()
        if v is not None and self.doc is not None:
            own = [t for t in v.tracklets if self.doc.camera_of(t) == self.camera]
            self._open_from_review((own or v.tracklets)[0])

    def toggle_context(self) -> None:
        self.context_visible = not self.context_visible
        self.context.setVisible(self.context_visible)
        if self.context_visible:
            self._update_context()

    def split_query(self) -> None:
        if not self._ready():
            return
        key = self.query_strip.selected
        if key is None:
            self.say("click the crop where another vehicle starts, then K splits the query there")
            return
        self._split_at(key)

    def _split_at(self, key: str) -> None:
        assert self.doc is not None and self.query is not None
        tail = self._decide("split", self.query, key, self.clock.take(self.query))
        if tail is not None:
            self.say(f"split: from {key} on is now tracklet {tail}")
        self._show_query()

    def merge_neighbour(self) -> None:
        if not self._ready():
            return
        other = self.selected_neighbour or next(iter(self.neighbour_rows), None)
        if other is None:
            self.say("no same-camera tracklet to merge with")
            return
        assert self.query is not None
        self._decide("merge", self.query, other, self.clock.take(self.query))
        self.selected_neighbour = None
        self._show_query()

    def move_selected(self) -> None:
        if not self._ready():
            return
        key, target = self.query_strip.selected, self.selected_neighbour
        if key is None or target is None:
            self.say("select a crop of the query and a same-camera tracklet first")
            return
        self._move(key, target)

    def _move(self, key: str, target: str) -> None:
        self._decide("move", key, target, 0.0)
        self.say(f"moved {key} into {target}")
        self._show_query()

    def _query_menu(self, key: str, pos: QPoint) -> None:
        doc = self.doc
        if doc is None or self.query is None:
            return
        menu = QMenu(self)
        split = menu.addAction("Split here (this crop starts a new tracklet)")
        split.setEnabled(self._keys(self.query).index(key) > 0 if key in self._keys(self.query) else False)
        split.triggered.connect(lambda: self._split_at(key))
        move = menu.addMenu("Move this box to")
        frame = doc.ctx.instances[key].frame
        targets = [t.id for t in doc.matching.tracklets
                   if t.clip_id == doc.tracklet(self.query).clip_id and t.id != self.query
                   and all(doc.ctx.frame_of.get(k) != frame for k in t.instances)]
        for tid in targets[:30]:
            act = move.addAction(f"{tid} ({self._span_text(tid)})")
            act.triggered.connect(lambda _=False, t=tid: self._move(key, t))
        move.setEnabled(bool(targets))
        show = menu.addAction("Show its frame (C)")
        show.triggered.connect(lambda: (setattr(self, "context_visible", False), self.toggle_context()))
        menu.popup(pos)
