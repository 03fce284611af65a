"""Where a vehicle lands in a picture, and whether an annotator would label it there.

The labelling rule, shared by the scheduler (which makes sure every vehicle gets labelled
somewhere), the labels and the tests:

* a vehicle is labelled when at least ``MIN_VISIBLE`` of its outline lies inside the frame,
  or at least ``MIN_VISIBLE_SPANNING`` when it is cut by two opposite borders (a bus longer
  than the picture is still labelled), and it is at least ``MIN_LENGTH_PX`` long;
* its four corners are the outline's corners clamped to the frame (so the instance box,
  the smallest rectangle around them, is the visible part of the vehicle's box);
* a mark becomes a part box when its footprint is at least ``MIN_PART_PX`` pixels on its
  short side (an annotator cannot see, let alone box, anything smaller) and at least
  ``MIN_PART_KEPT`` of its box survives clipping to the instance box.
"""
from __future__ import annotations

import numpy as np

__all__ = ["GRID", "MIN_LENGTH_PX", "MIN_PART_KEPT", "MIN_PART_PX", "MIN_VISIBLE", "MIN_VISIBLE_SPANNING",
           "affines", "apply", "labelled", "part_box"]

MIN_VISIBLE = 0.7
MIN_VISIBLE_SPANNING = 0.35
MIN_LENGTH_PX = 8.0
MIN_PART_PX = 2.0
MIN_PART_KEPT = 0.5

# sample points over the unit outline (cell centres of an 8 x 4 grid), scaled by length/width
_gx, _gy = np.meshgrid((np.arange(8) + 0.5) / 8 - 0.5, (np.arange(4) + 0.5) / 4 - 0.5)
GRID = np.stack([_gx.ravel(), _gy.ravel()], axis=1)


def affines(vx: np.ndarray, vy: np.ndarray, vtheta: np.ndarray, dx: np.ndarray, dy: np.ndarray, h: np.ndarray,
            psi: np.ndarray, focal: float, centre: tuple[float, float]) -> np.ndarray:
    """(n, 2, 3) matrices taking vehicle-local metres to image pixels: vehicle at (vx, vy) facing
    ``vtheta``, drone at (dx, dy), altitude ``h``, heading ``psi`` (all arrays of length n)."""
    s = focal / h
    rel = vtheta - psi
    c, sn = np.cos(rel) * s, np.sin(rel) * s
    cp, sp = np.cos(psi), np.sin(psi)
    ox, oy = vx - dx, vy - dy
    tx = centre[0] + s * (cp * ox + sp * oy)
    ty = centre[1] + s * (-sp * ox + cp * oy)
    out = np.empty((len(s), 2, 3))
    out[:, 0, 0], out[:, 0, 1], out[:, 0, 2] = c, -sn, tx
    out[:, 1, 0], out[:, 1, 1], out[:, 1, 2] = sn, c, ty
    return out


def apply(a: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Affines (n, 2, 3) applied to local points (m, 2) -> (n, m, 2); or (2, 3) -> (m, 2)."""
    if a.ndim == 2:
        return pts @ a[:, :2].T + a[:, 2]
    return np.einsum("nij,mj->nmi", a[:, :, :2], pts) + a[:, None, :, 2]


def labelled(a: np.ndarray, length: np.ndarray, width: np.ndarray, frame_w: int, frame_h: int) -> tuple[np.ndarray, np.ndarray]:
    """(labelled?, visible fraction) for n vehicle placements (affines ``a``, sizes in metres)."""
    pts = np.einsum("nij,nmj->nmi", a[:, :, :2], GRID[None] * np.stack([length, width], axis=1)[:, None, :]) + a[:, None, :, 2]
    x, y = pts[..., 0], pts[..., 1]
    inside = (x >= 0) & (x <= frame_w) & (y >= 0) & (y <= frame_h)
    frac = inside.mean(axis=1)
    spans = ((x < 0).any(axis=1) & (x > frame_w).any(axis=1)) | ((y < 0).any(axis=1) & (y > frame_h).any(axis=1))
    scale = np.hypot(a[:, 0, 0], a[:, 1, 0])  # pixels per metre
    ok = ((frac >= MIN_VISIBLE) | (spans & (frac >= MIN_VISIBLE_SPANNING))) & (length * scale >= MIN_LENGTH_PX)
    return ok, frac


def part_box(x0: float, y0: float, x1: float, y1: float,
             bbox: tuple[float, float, float, float]) -> tuple[float, float, float, float] | None:
    """The box (x0, y0, x1, y1) around a mark's footprint in pixels -> its part box clipped to
    ``bbox``, or None when too small to see or mostly outside."""
    if min(x1 - x0, y1 - y0) < MIN_PART_PX:
        return None
    cx0, cy0 = max(x0, bbox[0]), max(y0, bbox[1])
    cx1, cy1 = min(x1, bbox[2]), min(y1, bbox[3])
    if cx1 - cx0 < 1.0 or cy1 - cy0 < 1.0:
        return None
    if (cx1 - cx0) * (cy1 - cy0) < MIN_PART_KEPT * (x1 - x0) * (y1 - y0):
        return None
    return float(cx0), float(cy0), float(cx1), float(cy1)
