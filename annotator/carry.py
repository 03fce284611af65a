"""Carry-over: where the previous frame's vehicles are in the next frame (Qt-free).

Frames are sampled every 0.5 s, so a car can move more than its own length between
two frames; pyramidal Lucas–Kanade alone loses such cars. Each vehicle is therefore
found coarsely by template matching its own pixels (at a pyramid level where it is
small, in a window three vehicle lengths wide, which tolerates large moves) and then refined by Lucas–Kanade on feature points
inside its outline, which gives sub-pixel corners and follows turns and altitude
changes (a similarity transform). A vehicle that cannot be found, or that is leaving
the frame, gets no proposal: a wrong proposal costs the annotator more than none.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

from schemas import bbox_of_corners, corners_problem

Point = tuple[float, float]
Corners = tuple[Point, Point, Point, Point]

COARSE_SIZE = 32.0  # a vehicle is 32-64 px long during the coarse search
MIN_TEMPLATE_SCORE = 0.45
MIN_CONFIDENCE = 0.35  # below this, proposals were mostly wrong on synthetic clips: a wrong one costs 2 extra keys
MIN_VISIBLE = 0.7  # share of the moved box that must stay inside the frame (a common labelling rule)


@dataclass(frozen=True)
class Carried:
    source: str  # key of the instance it was carried from
    corners: Corners
    score: float  # 0..1, how sure the tracker is


def _shrunk(corners: np.ndarray, factor: float) -> np.ndarray:
    centre = corners.mean(axis=0)
    return centre + (corners - centre) * factor


def _feature_points(gray: np.ndarray, corners: np.ndarray) -> np.ndarray:
    """Corner features inside the vehicle outline, topped up with a grid on flat roofs."""
    h, w = gray.shape
    x1, y1 = np.floor(corners.min(axis=0)).astype(int)
    x2, y2 = np.ceil(corners.max(axis=0)).astype(int)
    x1, y1, x2, y2 = max(x1, 0), max(y1, 0), min(x2, w), min(y2, h)
    if x2 - x1 < 4 or y2 - y1 < 4:
        return np.empty((0, 2), np.float32)
    inner = _shrunk(corners, 0.85) - (x1, y1)
    mask = np.zeros((y2 - y1, x2 - x1), np.uint8)
    cv2.fillPoly(mask, [np.round(inner).astype(np.int32)], 255)  # clicked outlines may be concave
    found = cv2.goodFeaturesToTrack(gray[y1:y2, x1:x2], maxCorners=40, qualityLevel=0.01, minDistance=2, mask=mask)
    pts = found.reshape(-1, 2) if found is not None else np.empty((0, 2), np.float32)
    if len(pts) < 12:
        a, b, _, d = _shrunk(corners, 0.7)
        u, v = np.meshgrid(np.linspace(0, 1, 5), np.linspace(0, 1, 4))
        grid = a + np.outer(u.ravel(), b - a) + np.outer(v.ravel(), d - a) - (x1, y1)
        pts = np.vstack([pts, grid])
    return (pts + (x1, y1)).astype(np.float32)


class _Pyramid:
    """Halved copies of a frame pair, built once per call and shared by every vehicle."""

    def __init__(self, prev: np.ndarray, nxt: np.ndarray) -> None:
        self.levels = [(prev, nxt)]

    def level(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        while len(self.levels) <= n:
            a, b = self.levels[-1]
            self.levels.append((cv2.pyrDown(a), cv2.pyrDown(b)))
        return self.levels[n]


def _coarse_shift(pyramid: _Pyramid, corners: np.ndarray) -> tuple[np.ndarray, float]:
    """Translation of the vehicle found by normalised cross-correlation, and its score.

    Done at the pyramid level where the vehicle is about ``COARSE_SIZE`` pixels long,
    which keeps a search window of three vehicle lengths cheap at any resolution.
    """
    h, w = pyramid.levels[0][0].shape[:2]
    x1, y1 = np.floor(corners.min(axis=0)).astype(int)
    x2, y2 = np.ceil(corners.max(axis=0)).astype(int)
    x1, y1, x2, y2 = max(x1, 0), max(y1, 0), min(x2, w), min(y2, h)
    if x2 - x1 < 4 or y2 - y1 < 4:
        return np.zeros(2), 0.0
    n = max(0, int(np.floor(np.log2(max(x2 - x1, y2 - y1) / COARSE_SIZE))))
    prev, nxt = pyramid.level(n)
    f = 2.0 ** -n
    c = corners * f
    lh, lw = prev.shape[:2]
    tx1, ty1 = max(int(np.floor(c[:, 0].min())), 0), max(int(np.floor(c[:, 1].min())), 0)
    tx2, ty2 = min(int(np.ceil(c[:, 0].max())), lw), min(int(np.ceil(c[:, 1].max())), lh)
    tw, th = tx2 - tx1, ty2 - ty1
    reach = int(1.5 * max(tw, th)) + 4
    sx1, sy1, sx2, sy2 = max(tx1 - reach, 0), max(ty1 - reach, 0), min(tx2 + reach, lw), min(ty2 + reach, lh)
    template = prev[ty1:ty2, tx1:tx2]
    window = nxt[sy1:sy2, sx1:sx2]
    # only the vehicle's own pixels: the road around a diagonal car fills half its box, and
    # the road does not move with the car
    mask = np.zeros((th, tw), np.uint8)
    cv2.fillPoly(mask, [np.round(_shrunk(c, 0.9) - (tx1, ty1)).astype(np.int32)], 255)
    if th < 3 or tw < 3 or window.shape[0] < th or window.shape[1] < tw or template[mask > 0].std() < 1e-3:
        return np.zeros(2), 0.0
    result = np.nan_to_num(cv2.matchTemplate(window, template, cv2.TM_CCOEFF_NORMED, mask=mask),
                           nan=-1.0, posinf=-1.0, neginf=-1.0)
    # a mild preference for small moves, so a look-alike car further away loses a near tie
    ys, xs = np.mgrid[0:result.shape[0], 0:result.shape[1]]
    far = (((xs - (tx1 - sx1)) ** 2 + (ys - (ty1 - sy1)) ** 2) / reach ** 2).astype(np.float32)
    result = result - 0.15 * far
    _, _, _, (bx, by) = cv2.minMaxLoc(result)
    best = float(result[by, bx] + 0.15 * far[by, bx])
    # sub-pixel peak: a parabola through the neighbours of the best cell
    dx = dy = 0.0
    if 0 < bx < result.shape[1] - 1:
        l, m, r = result[by, bx - 1], result[by, bx], result[by, bx + 1]
        den = l - 2 * m + r
        dx = 0.5 * (l - r) / den if abs(den) > 1e-9 else 0.0
    if 0 < by < result.shape[0] - 1:
        u, m, d = result[by - 1, bx], result[by, bx], result[by + 1, bx]
        den = u - 2 * m + d
        dy = 0.5 * (u - d) / den if abs(den) > 1e-9 else 0.0
    shift = np.array([sx1 + bx + dx - tx1, sy1 + by + dy - ty1]) / f
    return shift, best


def _fit(src: np.ndarray, dst: np.ndarray) -> np.ndarray | None:
    """A similarity transform (2×3) from good point pairs, or None when they disagree."""
    if len(src) >= 8:
        m, inliers = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=1.0)
        if m is not None and inliers is not None and inliers.sum() >= 0.5 * len(src):
            scale = float(np.hypot(m[0, 0], m[1, 0]))
            if 0.8 < scale < 1.25:
                return m
    if len(src) >= 3:
        t = np.median(dst - src, axis=0)
        return np.array([[1.0, 0.0, t[0]], [0.0, 1.0, t[1]]])
    return None


def _gray(image: np.ndarray) -> np.ndarray:
    return image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)


def carry_over(prev: np.ndarray, nxt: np.ndarray, shapes: Sequence[tuple[str, Corners]]) -> list[Carried]:
    """Proposals in frame ``nxt`` for each ``(key, corners)`` outlined in frame ``prev``.

    Frames are RGB (preferred: a red car on dark asphalt is nearly invisible in grey)
    or grey arrays.
    """
    prev_gray, next_gray = _gray(prev), _gray(nxt)
    h, w = next_gray.shape
    pyramid = _Pyramid(prev, nxt)
    plans = []
    all_src, all_guess = [], []
    n_points = 0
    for key, corners in shapes:
        c = np.asarray(corners, np.float64)
        shift, score = _coarse_shift(pyramid, c)
        if score < MIN_TEMPLATE_SCORE:
            continue
        pts = _feature_points(prev_gray, c)
        if not len(pts):  # too small to track points on: the coarse move alone decides
            pts = c.mean(axis=0, keepdims=True).astype(np.float32)
        plans.append((key, c, shift, score, n_points, len(pts)))
        n_points += len(pts)
        all_src.append(pts)
        all_guess.append(pts + shift.astype(np.float32))
    if not plans:
        return []
    src = np.vstack(all_src).astype(np.float32).reshape(-1, 1, 2)
    guess = np.vstack(all_guess).astype(np.float32).reshape(-1, 1, 2)
    lk = dict(winSize=(15, 15), maxLevel=2, criteria=(cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 0.01))
    # one forward and one backward pass for every point of every vehicle; a point is kept
    # when tracking it back lands where it started
    fwd, st1, _ = cv2.calcOpticalFlowPyrLK(prev_gray, next_gray, src, guess.copy(),
                                           flags=cv2.OPTFLOW_USE_INITIAL_FLOW, **lk)
    back, st2, _ = cv2.calcOpticalFlowPyrLK(next_gray, prev_gray, fwd, src.copy(),
                                            flags=cv2.OPTFLOW_USE_INITIAL_FLOW, **lk)
    good = (st1.ravel() == 1) & (st2.ravel() == 1) & (np.linalg.norm((back - src).reshape(-1, 2), axis=1) < 0.7)
    fwd, src = fwd.reshape(-1, 2), src.reshape(-1, 2)
    out: list[Carried] = []
    for key, c, shift, score, start, n in plans:
        sel = slice(start, start + n)
        ok = good[sel]
        m = _fit(src[sel][ok], fwd[sel][ok])
        if m is None:
            moved = c + shift
            confidence = score * 0.5
        else:
            moved = c @ m[:, :2].T + m[:, 2]
            # the refined move must agree with the coarse one, or LK latched onto the road
            if np.linalg.norm(moved.mean(axis=0) - (c + shift).mean(axis=0)) > 0.25 * np.ptp(c, axis=0).max() + 2:
                moved, confidence = c + shift, score * 0.5
            else:
                confidence = score * (0.5 + 0.5 * float(ok.mean()))
        carried = _clamped(moved, w, h)
        if carried is not None and confidence >= MIN_CONFIDENCE:
            out.append(Carried(key, carried, round(confidence, 3)))
    return out


def _clamped(corners: np.ndarray, w: int, h: int) -> Corners | None:
    """Corners pulled inside the frame, or None when the vehicle is mostly outside it."""
    x1, y1, x2, y2 = bbox_of_corners(corners.tolist())
    area = (x2 - x1) * (y2 - y1)
    visible = max(0.0, min(x2, w) - max(x1, 0)) * max(0.0, min(y2, h) - max(y1, 0))
    if area <= 0 or visible < MIN_VISIBLE * area:
        return None
    pts = tuple((round(float(np.clip(x, 0, w)), 2), round(float(np.clip(y, 0, h)), 2)) for x, y in corners)
    if corners_problem(pts):
        return None
    return pts  # type: ignore[return-value]
