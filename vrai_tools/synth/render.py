"""Drawing frame ``i`` of a clip, and the per-vehicle masks that go with it.

A frame is a pure function of its number: background warped from the clip's ground
picture, then each vehicle's shadow and body at the pose it has at ``i / fps``, then
light, noise and an occasional gust of camera shake. So the video is written in one pass
and any single frame (the ones ``sample_video`` picked, for labels and tests) can be drawn
again on its own, identically.

Speed: everything is numpy/OpenCV on whole arrays or small regions; the background is
warped at half resolution and scaled up (the ground is smooth; vehicles are drawn at full
resolution on top).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from ..errors import VideoError
from .flight import Camera
from .geometry import affines, apply
from .look import Look
from .scene import render_ground
from .traffic import ClipPlan, Passage
from .vehicles import VehicleSpec

__all__ = ["ClipRenderer", "VehicleMask"]

BLUR_MIN_PX = 1.5  # motion smear below this is invisible after compression: draw sharp
SUB = 4  # fixed-point bits for cv2 drawing: positions move by 1/16 pixel, no jumping
ONE = 1 << SUB


@dataclass
class VehicleMask:
    """Where vehicle ``vehicle`` was drawn in a frame: ``outline`` (everything drawn for it)
    and ``paint`` (pixels showing its body colour), both boolean, placed at (x0, y0)."""

    vehicle: int
    x0: int
    y0: int
    outline: np.ndarray
    paint: np.ndarray


@dataclass
class _Drawable:
    spec: VehicleSpec
    points: np.ndarray  # all layer vertices, local metres
    slices: list[tuple[int, int]]  # each layer's rows in points
    colors: list[tuple[float, float, float]]  # BGR, white balance applied
    paint: list[bool]
    corners: np.ndarray  # outline corners, local


class ClipRenderer:
    def __init__(self, plan: ClipPlan, look: Look, vehicles: dict[int, VehicleSpec], passages: list[Passage],
                 seed: tuple[int, ...], fps: float) -> None:
        self.plan, self.look, self.fps = plan, look, fps
        self.cam: Camera = plan.cam
        self.passages = [p for p in passages if p.camera == plan.camera]
        lanes = plan.scene.lanes
        self._p_origin = np.array([lanes[p.lane].origin for p in self.passages]).reshape(-1, 2)
        self._p_dir = np.array([lanes[p.lane].direction for p in self.passages]).reshape(-1, 2)
        self._p_speed = np.array([lanes[p.lane].speed for p in self.passages])
        self._p_angle = np.array([lanes[p.lane].angle for p in self.passages])
        self._p_t0 = np.array([p.t0 for p in self.passages])
        self._p_s0 = np.array([p.s0 for p in self.passages])
        wb = np.array(look.white_balance)
        self._draw = {p.vehicle: self._drawable(vehicles[p.vehicle], wb) for p in self.passages}
        rng = np.random.default_rng(list(seed))
        self._ground(rng)
        w, h = self.cam.width, self.cam.height
        # Sensor noise in one saturating add per frame: everything is drawn ``lift`` grey levels
        # darker and the noise pattern carries ``lift`` on top (a sensor's black level): 4
        # standard deviations, so the pattern clips at 0 only in the far tail.
        self._lift = int(math.ceil(4 * look.noise))
        noise = np.round(rng.normal(0, look.noise, (h + 32, w + 32, 3))) + self._lift
        self._noise = np.clip(noise, 0, 255).astype(np.uint8)
        self._shadow_lut = _lut(1.0 - look.shadow, self._lift)

    # ----------------------------------------------------------------------- set-up

    @staticmethod
    def _drawable(spec: VehicleSpec, wb: np.ndarray) -> _Drawable:
        pts, splits, colors, paint = [], [], [], []
        n = 0
        for ly in spec.layers:
            pts.append(ly.poly)
            n += len(ly.poly)
            splits.append(n)
            c = np.clip(np.array(ly.rgb) * wb, 0, 255)
            colors.append((float(c[2]), float(c[1]), float(c[0])))
            paint.append(ly.paint)
        starts = [0, *splits[:-1]]
        return _Drawable(spec, np.concatenate(pts), list(zip(starts, splits)), colors, paint, spec.corners_local())

    def _ground(self, rng: np.random.Generator) -> None:
        """The clip's ground picture over everything the drone will see, at half the video's
        resolution at the lowest altitude of the flight."""
        fl, cam = self.plan.flight, self.cam
        t = np.linspace(0.0, self.plan.seconds + 0.5, 97)
        xs, ys, hs, psis = fl.pose(t)
        corners = np.array([[0, 0], [cam.width, 0], [cam.width, cam.height], [0, cam.height]], float) - cam.centre
        wx, wy = [], []
        for x, y, h, psi in zip(xs, ys, hs, psis):
            k = h / cam.focal
            c, s = math.cos(psi), math.sin(psi)
            wx.extend(x + k * (c * corners[:, 0] - s * corners[:, 1]))
            wy.extend(y + k * (s * corners[:, 0] + c * corners[:, 1]))
        margin = 6.0
        self._x0, self._y0 = math.floor(min(wx) - margin), math.floor(min(wy) - margin)
        x1, y1 = math.ceil(max(wx) + margin), math.ceil(max(wy) + margin)
        self._gsd = 0.5 * cam.focal / float(hs.min())
        ground = render_ground(self.plan.scene, rng, self._x0, self._y0, x1, y1, self._gsd,
                               self.look.sun, self.look.white_balance)
        # kept with a fourth channel: OpenCV's warp has a SIMD path for 4 channels only
        # (0.7 ms a frame instead of 1.8 ms, same pixels)
        self._raster = cv2.cvtColor(ground, cv2.COLOR_BGR2BGRA)

    # ----------------------------------------------------------------------- per frame

    def time(self, i: int) -> float:
        return i / self.fps

    def _background(self, t: float, gain: float) -> np.ndarray:
        cam = self.cam
        a_world = self.plan.flight.image_affine(cam, t)  # world -> full-resolution pixels
        # raster pixel (cv2 index) -> world -> half-resolution pixel (cv2 index)
        g = self._gsd
        r2w = np.array([[1 / g, 0, self._x0 + 0.5 / g], [0, 1 / g, self._y0 + 0.5 / g], [0, 0, 1]])
        half = np.array([[0.5, 0, -0.5], [0, 0.5, -0.5], [0, 0, 1]])
        m = (half @ np.vstack([a_world, [0, 0, 1]]) @ r2w)[:2]
        w2, h2 = cam.width // 2, cam.height // 2
        small = cv2.warpAffine(self._raster, m, (w2, h2), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        # light (and the black level) on the quarter-size picture: 4x cheaper than on the frame
        small = cv2.LUT(cv2.cvtColor(small, cv2.COLOR_BGRA2BGR), _lut(gain, self._lift, lifted=False))
        return cv2.resize(small, (cam.width, cam.height), interpolation=cv2.INTER_LINEAR)

    def placements(self, t: float) -> tuple[list[int], np.ndarray]:
        """Indices of the passages near the view at clip time ``t`` and their (n, 2, 3) affines."""
        if not self.passages:
            return [], np.empty((0, 2, 3))
        dx, dy, h, psi = (float(v) for v in self.plan.flight.pose(t))
        s = self._p_s0 + self._p_speed * (t + self.plan.sync_offset - self._p_t0)
        x = self._p_origin[:, 0] + s * self._p_dir[:, 0]
        y = self._p_origin[:, 1] + s * self._p_dir[:, 1]
        reach = math.hypot(*self.cam.half_extent(h)) + 8.0
        near = np.nonzero(np.hypot(x - dx, y - dy) < reach)[0]
        n = len(near)
        a = affines(x[near], y[near], self._p_angle[near], np.full(n, dx), np.full(n, dy), np.full(n, h),
                    np.full(n, psi), self.cam.focal, self.cam.centre)
        return [int(i) for i in near], a

    def render(self, i: int) -> np.ndarray:
        t = self.time(i)
        gain = self.look.gain_at(t)
        frame = self._background(t, gain)
        idx, aff = self.placements(t)
        w, h = self.cam.width, self.cam.height
        _, _, alt, psi = (float(v) for v in self.plan.flight.pose(t))
        scale = self.cam.focal / alt
        c, s = math.cos(psi), math.sin(psi)
        sun = self.look.sun
        sun_img = np.array([c * sun[0] + s * sun[1], -s * sun[0] + c * sun[1]]) * scale
        order = sorted(range(len(idx)), key=lambda k: self.passages[idx[k]].vehicle)
        for k in order:
            d = self._draw[self.passages[idx[k]].vehicle]
            self._shadow(frame, aff[k], d, sun_img * d.spec.model.height)
        for k in order:
            d = self._draw[self.passages[idx[k]].vehicle]
            self._vehicle(frame, aff[k], d, float(self._p_speed[idx[k]] * self.look.exposure * scale), gain)
        ox, oy = (i * 7 + 3) % 32, (i * 13 + 5) % 32
        frame = cv2.add(frame, self._noise[oy:oy + h, ox:ox + w])
        gust = self.look.gust_at(t)
        if gust is not None:
            frame = _shake(frame, gust[0] * w, gust[1])
        return frame

    def _shadow(self, frame: np.ndarray, a: np.ndarray, d: _Drawable, offset: np.ndarray) -> None:
        pts = apply(a, d.corners)
        hull = cv2.convexHull(np.concatenate([pts, pts + offset]).astype(np.float32))[:, 0, :]
        x0, y0 = np.floor(hull.min(axis=0)).astype(int) - 1
        x1, y1 = np.ceil(hull.max(axis=0)).astype(int) + 2
        fh, fw = frame.shape[:2]
        cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x1, fw), min(y1, fh)
        if cx1 <= cx0 or cy1 <= cy0:
            return
        mask = np.zeros((cy1 - cy0, cx1 - cx0), np.uint8)
        cv2.fillConvexPoly(mask, np.round((hull - (cx0 + 0.5, cy0 + 0.5)) * ONE).astype(np.int32), 255, cv2.LINE_8, SUB)
        roi = frame[cy0:cy1, cx0:cx1]
        roi[:] = cv2.copyTo(cv2.LUT(roi, self._shadow_lut), mask, np.ascontiguousarray(roi))

    def _polys(self, a: np.ndarray, d: _Drawable, x0: float, y0: float) -> list[np.ndarray]:
        pts = np.round((apply(a, d.points) - (x0 + 0.5, y0 + 0.5)) * ONE).astype(np.int32)
        return [pts[s:e] for s, e in d.slices]

    def _vehicle(self, frame: np.ndarray, a: np.ndarray, d: _Drawable, blur: float, gain: float) -> None:
        k = self._lift
        colors = [(max(c[0] * gain - k, 0.0), max(c[1] * gain - k, 0.0), max(c[2] * gain - k, 0.0)) for c in d.colors]
        if blur < BLUR_MIN_PX:  # straight onto the frame
            polys = self._polys(a, d, 0.0, 0.0)
            cv2.fillPoly(frame, [polys[0]], colors[0], cv2.LINE_AA, SUB)
            for poly, color in zip(polys[1:], colors[1:]):
                cv2.fillPoly(frame, [poly], color, cv2.LINE_8, SUB)
            return
        # moving fast for this exposure: draw on black with a coverage mask, smear both along
        # the motion, then put the smeared vehicle over the background
        outline = apply(a, d.corners)
        fh, fw = frame.shape[:2]
        pad = int(math.ceil(blur)) + 2
        x0, y0 = np.floor(outline.min(axis=0)).astype(int) - pad
        x1, y1 = np.ceil(outline.max(axis=0)).astype(int) + pad + 1
        cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x1, fw), min(y1, fh)
        if cx1 <= cx0 or cy1 <= cy0:
            return
        polys = self._polys(a, d, float(x0), float(y0))
        layer = np.zeros((y1 - y0, x1 - x0, 3), np.uint8)
        alpha = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.fillPoly(layer, [polys[0]], colors[0], cv2.LINE_AA, SUB)
        cv2.fillPoly(alpha, [polys[0]], 255, cv2.LINE_AA, SUB)
        for poly, color in zip(polys[1:], colors[1:]):
            cv2.fillPoly(layer, [poly], color, cv2.LINE_8, SUB)
            cv2.fillPoly(alpha, [poly], 255, cv2.LINE_8, SUB)
        kern = _line_kernel(blur, math.atan2(a[1, 0], a[0, 0]))
        sl = (slice(cy0 - y0, cy1 - y0), slice(cx0 - x0, cx1 - x0))
        layer = cv2.filter2D(layer, -1, kern, borderType=cv2.BORDER_CONSTANT)[sl]
        keep = 255 - cv2.filter2D(alpha, -1, kern, borderType=cv2.BORDER_CONSTANT)[sl]
        roi = frame[cy0:cy1, cx0:cx1]
        roi[:] = cv2.add(cv2.multiply(roi, cv2.merge([keep, keep, keep]), scale=1 / 255), layer)

    def masks(self, i: int) -> list[VehicleMask]:
        """Where each vehicle is drawn in frame ``i``, exactly (no anti-aliasing, no motion blur)."""
        idx, aff = self.placements(self.time(i))
        out = []
        w, h = self.cam.width, self.cam.height
        for k in sorted(range(len(idx)), key=lambda k: self.passages[idx[k]].vehicle):
            d = self._draw[self.passages[idx[k]].vehicle]
            outline = apply(aff[k], d.corners)
            x0, y0 = np.floor(outline.min(axis=0)).astype(int) - 2
            x1, y1 = np.ceil(outline.max(axis=0)).astype(int) + 3
            if x1 <= 0 or y1 <= 0 or x0 >= w or y0 >= h:
                continue
            polys = self._polys(aff[k], d, float(x0), float(y0))
            full = np.zeros((y1 - y0, x1 - x0), np.uint8)
            paint = np.zeros_like(full)
            for poly, is_paint in zip(polys, d.paint):
                cv2.fillPoly(full, [poly], 1, cv2.LINE_8, SUB)
                cv2.fillPoly(paint, [poly], 1 if is_paint else 0, cv2.LINE_8, SUB)
            out.append(VehicleMask(d.spec.id, int(x0), int(y0), full.astype(bool), paint.astype(bool)))
        return out

    # ----------------------------------------------------------------------- video

    def write_video(self, path: Path, n_frames: int, on_frame: Callable[[int], None] | None = None) -> None:
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, (self.cam.width, self.cam.height))
        if not writer.isOpened():
            raise VideoError(f"{path}: OpenCV cannot write MP4 (mp4v) video here")
        try:
            for i in range(n_frames):
                frame = self.render(i)
                writer.write(frame)
                if on_frame is not None:
                    on_frame(i + 1)
        finally:
            writer.release()


def _lut(gain: float, lift: int, lifted: bool = True) -> np.ndarray:
    """Grey level -> grey level: times ``gain``, then ``lift`` darker (the noise adds it back).
    ``lifted``: the input is already ``lift`` darker."""
    v = np.arange(256, dtype=np.float64) + (lift if lifted else 0)
    return np.clip(np.round(v * gain) - lift, 0, 255).astype(np.uint8)


def _line_kernel(length: float, angle: float) -> np.ndarray:
    n = int(math.ceil(length)) | 1
    k = np.zeros((n, n), np.float32)
    c = (n - 1) / 2
    dx, dy = math.cos(angle) * (length - 1) / 2, math.sin(angle) * (length - 1) / 2
    cv2.line(k, (round((c - dx) * ONE), round((c - dy) * ONE)), (round((c + dx) * ONE), round((c + dy) * ONE)), 1.0,
             1, cv2.LINE_AA, SUB)
    return k / k.sum()


def _shake(frame: np.ndarray, length: float, angle: float) -> np.ndarray:
    if length < 1.5:
        return frame
    return cv2.filter2D(frame, -1, _line_kernel(length, angle), borderType=cv2.BORDER_REFLECT)
