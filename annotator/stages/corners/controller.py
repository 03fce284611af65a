"""Stage 1 as user actions, without widgets: what one click or one key does.

The canvas and the key table only translate Qt events into these calls, so tests and
``benchmarks/annotate_stage1.py`` drive exactly what an annotator drives, and count
actions the way an annotator spends them.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Literal

from PyQt6.QtCore import QObject, QThreadPool, pyqtSignal

from schemas import bbox_of_corners

from ...carry import Carried, carry_over
from ...document import ClipDocument, Corners, EditRefused, Point
from ...frame_cache import FrameCache

PREFETCH_AHEAD = 2
PREFETCH_BEHIND = 1
DUPLICATE_IOU = 0.5  # a carried box this close to an existing one is the same vehicle


@dataclass(frozen=True)
class Selection:
    kind: Literal["instance", "proposal"]
    id: str | int  # instance key, or proposal id


def box_iou(a: Corners, b: Corners) -> float:
    ax1, ay1, ax2, ay2 = bbox_of_corners(a)
    bx1, by1, bx2, by2 = bbox_of_corners(b)
    ix, iy = max(0.0, min(ax2, bx2) - max(ax1, bx1)), max(0.0, min(ay2, by2) - max(ay1, by1))
    inter = ix * iy
    union = (ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - inter
    return inter / union if union > 0 else 0.0


class ActivityClock:
    """Seconds of work per frame: the time since the previous action goes to the frame acted on.

    Gaps are capped, so a coffee break in front of an open frame is not counted as work.
    """

    IDLE_CAP = 30.0

    def __init__(self, now: Callable[[], float] = time.monotonic) -> None:
        self._now = now
        self._last = now()
        self._pending: dict[int, float] = {}

    def tick(self, frame: int) -> None:
        t = self._now()
        self._pending[frame] = self._pending.get(frame, 0.0) + min(t - self._last, self.IDLE_CAP)
        self._last = t

    def take(self, frame: int) -> float:
        return self._pending.pop(frame, 0.0)


class _Relay(QObject):
    carried = pyqtSignal(int, object)


class CornersController(QObject):
    frameChanged = pyqtSignal()
    selectionChanged = pyqtSignal()
    draftChanged = pyqtSignal()
    busyChanged = pyqtSignal()
    message = pyqtSignal(str)

    def __init__(self, doc: ClipDocument, cache: FrameCache, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.doc = doc
        self.cache = cache
        self.position = 0
        self.draft: list[Point] = []
        self.selection: Selection | None = None
        self.clock = ActivityClock()
        self.carry_enabled = True
        self._carry_wanted: dict[int, int] = {}  # frame -> previous frame, waiting for images
        self._carry_running: set[int] = set()
        self._carried: set[int] = set()  # frames that got (or are getting) proposals this session
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._relay = _Relay(self)
        self._relay.carried.connect(self._on_carried)
        doc.instancesChanged.connect(self._check_selection)
        doc.proposalsChanged.connect(self._check_selection)
        cache.ready.connect(self._on_frame_ready)
        cache.failed.connect(self._on_frame_failed)
        first_open = next((i for i, f in enumerate(doc.frame_indices) if not doc.is_done(f)), 0)
        self.goto_position(first_open)

    # ------------------------------------------------------------------ state
    @property
    def frame(self) -> int:
        return self.doc.frame_indices[self.position]

    @property
    def frame_count(self) -> int:
        return len(self.doc.frame_indices)

    @property
    def busy(self) -> bool:
        """True while carry-over for the current frame is still being computed."""
        f = self.frame
        return f in self._carry_wanted or f in self._carry_running

    def _say(self, text: str) -> None:
        self.message.emit(text)

    def _edit(self, fn: Callable[[], object]) -> bool:
        try:
            fn()
        except EditRefused as e:
            self._say(str(e))
            return False
        return True

    # ------------------------------------------------------------------ navigation
    def goto_position(self, position: int) -> None:
        position = max(0, min(self.frame_count - 1, position))
        if self.draft:
            self.draft = []
            self.draftChanged.emit()
        self.clock.tick(self.frame)
        self.position = position
        self.selection = None
        f = self.frame
        self.cache.request(f)
        neighbours = [self.doc.frame_indices[p] for p in range(position + 1, position + 1 + PREFETCH_AHEAD)
                      if p < self.frame_count]
        neighbours += [self.doc.frame_indices[p] for p in range(position - PREFETCH_BEHIND, position) if p >= 0]
        self.cache.prefetch(neighbours)
        self.frameChanged.emit()
        self.selectionChanged.emit()
        self._maybe_carry()

    def goto_frame(self, index: int) -> None:
        """Go to the frame with this index (the nearest one when that index was not sampled)."""
        indices = self.doc.frame_indices
        best = min(range(len(indices)), key=lambda p: abs(indices[p] - index))
        self.goto_position(best)

    def next_frame(self) -> None:
        if self.position + 1 >= self.frame_count:
            self._say("last frame of the clip")
            return
        self.goto_position(self.position + 1)

    def prev_frame(self) -> None:
        if self.position == 0:
            self._say("first frame of the clip")
            return
        self.goto_position(self.position - 1)

    def _unfinished(self, step: int) -> None:
        p = self.position + step
        while 0 <= p < self.frame_count:
            if not self.doc.is_done(self.doc.frame_indices[p]):
                self.goto_position(p)
                return
            p += step
        self._say("no unfinished frame " + ("after" if step > 0 else "before") + " this one")

    def next_unfinished(self) -> None:
        self._unfinished(1)

    def prev_unfinished(self) -> None:
        self._unfinished(-1)

    # ------------------------------------------------------------------ drawing and editing
    def clamp_point(self, x: float, y: float) -> Point | None:
        """A click just outside the frame snaps to its border; one far outside is refused."""
        w, h = self.doc.image_size
        margin = 0.03 * max(w, h)
        if x < -margin or y < -margin or x > w + margin or y > h + margin:
            return None
        return (min(max(x, 0.0), float(w)), min(max(y, 0.0), float(h)))

    def click(self, x: float, y: float) -> None:
        """One corner of a new vehicle; the fourth click creates it."""
        self.clock.tick(self.frame)
        if self.doc.read_only:
            self._say(f"read-only: {self.doc.read_only_reason}")
            return
        p = self.clamp_point(x, y)
        if p is None:
            self._say("click inside the frame")
            return
        problem = self._early_problem(p)
        if problem:
            self._say(f"{problem}; click that corner again")
            return
        self.draft.append(p)
        if len(self.draft) == 4:
            try:
                key = self.doc.add_instance(self.frame, self.draft)
            except EditRefused as e:
                self.draft.pop()
                self._say(f"{e}; click the 4th corner again (Esc starts over)")
            else:
                self.draft = []
                self.select(Selection("instance", key))
        self.draftChanged.emit()

    def _early_problem(self, p: Point) -> str | None:
        """Refuse a repeated or collinear 2nd/3rd corner at once, not after the 4th click."""
        n = len(self.draft)
        if any(abs(p[0] - q[0]) < 1e-6 and abs(p[1] - q[1]) < 1e-6 for q in self.draft):
            return f"corner {n} is the same point as an earlier one"
        if n == 2:
            (ax, ay), (bx, by) = self.draft
            if abs((bx - ax) * (p[1] - ay) - (by - ay) * (p[0] - ax)) < 1.0:  # as schemas.corners_problem
                return "corners 0, 1, 2 are collinear"
        return None

    def select(self, selection: Selection | None) -> None:
        self.clock.tick(self.frame)
        if selection != self.selection:
            self.selection = selection
            self.selectionChanged.emit()

    def selected_corners(self) -> Corners | None:
        s = self.selection
        if s is None:
            return None
        if s.kind == "instance":
            return self.doc.instance(str(s.id)).corners
        return self.doc.proposal(self.frame, int(s.id)).corners

    def move_corner(self, target: Selection, corner: int, x: float, y: float) -> bool:
        """Drop a dragged corner (of an instance or a proposal) at ``(x, y)``."""
        self.clock.tick(self.frame)
        p = self.clamp_point(x, y)
        if p is None:
            self._say("a corner must stay inside the frame")
            return False
        if target.kind == "instance":
            corners = list(self.doc.instance(str(target.id)).corners)
            corners[corner] = p
            ok = self._edit(lambda: self.doc.set_corners(str(target.id), corners))
        else:
            corners = list(self.doc.proposal(self.frame, int(target.id)).corners)
            corners[corner] = p
            ok = self._edit(lambda: self.doc.set_proposal_corners(self.frame, int(target.id), corners))
        self.select(target)
        return ok

    def nudge(self, dx: float, dy: float) -> None:
        """Move the selection by whole pixels, stopping at the frame border; a run of nudges undoes as one."""
        self.clock.tick(self.frame)
        s, corners = self.selection, self.selected_corners()
        if s is None or corners is None:
            self._say("select a vehicle first (click it, or Tab)")
            return
        w, h = self.doc.image_size
        x1, y1, x2, y2 = bbox_of_corners(corners)
        dx = min(max(dx, -x1), w - x2)
        dy = min(max(dy, -y1), h - y2)
        if dx == 0 and dy == 0:
            return
        merge = ("nudge", s)
        if s.kind == "instance":
            self._edit(lambda: self.doc.translate([str(s.id)], dx, dy, merge=merge))
        else:
            moved = [(x + dx, y + dy) for x, y in corners]
            self._edit(lambda: self.doc.set_proposal_corners(self.frame, int(s.id), moved, merge=merge))

    def delete_selected(self) -> None:
        self.clock.tick(self.frame)
        s = self.selection
        if s is None:
            self._say("nothing selected")
            return
        if s.kind == "instance":
            self._edit(lambda: self.doc.delete([str(s.id)]))
        else:
            self._edit(lambda: self.doc.delete_proposals(self.frame, [int(s.id)]))

    def cancel(self) -> None:
        self.clock.tick(self.frame)
        if self.draft:
            self.draft = []
            self.draftChanged.emit()
        elif self.selection is not None:
            self.select(None)

    def _candidates(self) -> list[Selection]:
        out = [Selection("instance", i.key) for i in self.doc.instances_on(self.frame)]
        return out + [Selection("proposal", p.id) for p in self.doc.proposals_on(self.frame)]

    def select_step(self, step: int) -> None:
        items = self._candidates()
        if not items:
            self._say("no vehicle on this frame")
            return
        i = items.index(self.selection) + step if self.selection in items else (0 if step > 0 else -1)
        self.select(items[i % len(items)])

    def accept(self) -> None:
        """Enter: accept the selected proposal, or all of them; with none pending, finish the frame."""
        f = self.frame
        self.clock.tick(f)
        if self.draft:
            self._say("finish the vehicle being clicked (4 corners) or press Esc")
            return
        if self.busy:
            self._say("still carrying vehicles over from the previous frame…")
            return
        proposals = self.doc.proposals_on(f)
        if proposals:
            s = self.selection
            ids = [int(s.id)] if s is not None and s.kind == "proposal" else None
            if self._edit(lambda: self.doc.accept_proposals(f, ids)):
                self.select(None)
            return
        if not self.doc.is_done(f):
            if not self._edit(lambda: self.doc.set_frame_done(f, True, seconds=self.clock.take(f))):
                return
        if self.position + 1 < self.frame_count:
            self.next_frame()
        else:
            self._say("clip finished: every frame up to the last one is done" if all(
                self.doc.is_done(i) for i in self.doc.frame_indices) else "last frame; Shift+A finds unfinished ones")

    def toggle_done(self) -> None:
        f = self.frame
        self.clock.tick(f)
        done = not self.doc.is_done(f)
        self._edit(lambda: self.doc.set_frame_done(f, done, seconds=self.clock.take(f) if done else 0.0))

    def _check_selection(self, frame: int) -> None:
        s = self.selection
        if s is None or frame != self.frame:
            return
        gone = (s.kind == "instance" and not self.doc.has_instance(str(s.id))) or (
            s.kind == "proposal" and all(p.id != s.id for p in self.doc.proposals_on(frame)))
        if gone:
            self.selection = None
            self.selectionChanged.emit()

    # ------------------------------------------------------------------ carry-over
    def _maybe_carry(self) -> None:
        f = self.frame
        if (not self.carry_enabled or self.doc.read_only or self.position == 0 or self.doc.is_done(f)
                or f in self._carried):
            return
        prev = self.doc.frame_indices[self.position - 1]
        if not self.doc.instances_on(prev):
            return
        self._carried.add(f)
        self._carry_wanted[f] = prev
        self.cache.request(prev)
        self._start_ready_carries()
        self.busyChanged.emit()

    def _on_frame_ready(self, index: int) -> None:
        if self._carry_wanted:
            self._start_ready_carries()

    def _on_frame_failed(self, index: int, error: str) -> None:
        self._say(error)
        for f, prev in list(self._carry_wanted.items()):
            if index in (f, prev):
                del self._carry_wanted[f]
                self.busyChanged.emit()

    def _start_ready_carries(self) -> None:
        for f, prev in list(self._carry_wanted.items()):
            a, b = self.cache.get(prev), self.cache.get(f)
            if a is None or b is None:
                self.cache.request(prev)
                self.cache.request(f)
                continue
            del self._carry_wanted[f]
            self._carry_running.add(f)
            shapes = [(i.key, i.corners) for i in self.doc.instances_on(prev)]
            relay, prev_rgb, next_rgb = self._relay, a.rgb, b.rgb

            def work(f: int = f) -> None:
                try:
                    result = carry_over(prev_rgb, next_rgb, shapes)
                except Exception:  # a tracker failure must only cost the proposals
                    result = []
                try:
                    relay.carried.emit(f, result)
                except RuntimeError:
                    pass

            self._pool.start(work)

    def _on_carried(self, frame: int, result: list[Carried]) -> None:
        self._carry_running.discard(frame)
        if not self.doc.is_done(frame):
            taken = [i.corners for i in self.doc.instances_on(frame)]
            taken += [p.corners for p in self.doc.proposals_on(frame)]
            fresh = []
            for c in result:
                if all(box_iou(c.corners, t) < DUPLICATE_IOU for t in taken):
                    fresh.append((c.corners, c.source, c.score))
                    taken.append(c.corners)
            if fresh:  # computed once per frame and session, so nothing is replaced here
                self.doc.set_proposals(frame, fresh)
        self.busyChanged.emit()

    def close(self) -> None:
        self._pool.waitForDone()
