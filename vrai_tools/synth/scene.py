"""What the drones look down on: a road, an intersection or a road beside a parking area.

A scene is a small description (road direction, lanes with their speeds, where buildings
and trees stand) plus a background picture of the ground rendered once per clip, in world
metres, over just the area the drone will see. Vehicles are not part of it: they move,
and the renderer draws them on top.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

__all__ = ["LANE_WIDTH", "Lane", "Scene", "make_scene", "render_ground"]

LANE_WIDTH = 3.5
SIDEWALK = 3.0


@dataclass(frozen=True)
class Lane:
    """A straight lane: vehicles move along ``direction`` at ``speed`` (m/s), all of them, so
    vehicles of one lane keep their distances (no overtaking, no collisions)."""

    id: int
    road: int  # 0: the main road, 1: the crossing road of an intersection
    origin: tuple[float, float]  # point of the centre line nearest to the scene origin
    direction: tuple[float, float]  # unit vector
    speed: float

    @property
    def angle(self) -> float:
        return math.atan2(self.direction[1], self.direction[0])


@dataclass(frozen=True)
class Scene:
    kind: str  # road | intersection | parking
    road_angle: float  # direction of the main road (radians, world)
    lanes_per_direction: int
    lanes: tuple[Lane, ...]
    cross_angle: float = 0.0  # direction of the crossing road (intersection)
    lot: tuple[float, float, float, float] | None = None  # parking area: along0, along1, across0, across1 (road frame)
    junction: float = 0.0  # half size of the junction box (metres), 0 when none
    buildings: tuple[tuple[float, ...], ...] = ()  # (x, y, length, width, angle, shade)
    trees: tuple[tuple[float, float, float], ...] = ()  # (x, y, radius)
    palette: dict[str, tuple[int, int, int]] = field(default_factory=dict)

    def road_half_width(self) -> float:
        return self.lanes_per_direction * LANE_WIDTH + 0.3

    def to_json(self) -> dict[str, object]:
        return {"kind": self.kind, "road_angle_deg": round(math.degrees(self.road_angle), 3),
                "lanes": [{"id": ln.id, "road": ln.road, "speed": round(ln.speed, 3),
                           "origin": [round(v, 3) for v in ln.origin],
                           "direction": [round(v, 6) for v in ln.direction]} for ln in self.lanes]}


def _unit(a: float) -> tuple[float, float]:
    return math.cos(a), math.sin(a)


def _lanes_of_road(first_id: int, road: int, angle: float, per_dir: int, speeds: list[float]) -> list[Lane]:
    """Right-hand traffic: with y pointing south, the right of direction u is (-uy, ux)."""
    lanes = []
    for sgn in (1, -1):
        u = _unit(angle if sgn > 0 else angle + math.pi)
        right = (-u[1], u[0])
        for k in range(per_dir):
            off = (k + 0.5) * LANE_WIDTH
            lanes.append(Lane(id=first_id + len(lanes), road=road, origin=(right[0] * off, right[1] * off),
                              direction=u, speed=speeds[len(lanes)]))
    return lanes


def make_scene(rng: np.random.Generator, min_altitude: float) -> Scene:
    kind = str(rng.choice(["road", "intersection", "parking"], p=[0.4, 0.35, 0.25]))
    road_angle = float(rng.uniform(0, 2 * math.pi))
    per_dir = int(rng.integers(1, 3)) if min_altitude < 30 else int(rng.integers(2, 4))
    slow = kind != "road"
    speeds = [float(rng.uniform(6.0, 11.0) if slow else rng.uniform(8.5, 16.0)) for _ in range(2 * per_dir)]
    lanes = _lanes_of_road(0, 0, road_angle, per_dir, speeds)
    cross_angle, junction, lot = 0.0, 0.0, None
    if kind == "intersection":
        cross_angle = road_angle + math.pi / 2 + float(rng.uniform(-0.3, 0.3))
        lanes += _lanes_of_road(len(lanes), 1, cross_angle, 1, [float(rng.uniform(5.0, 9.5)) for _ in range(2)])
        junction = per_dir * LANE_WIDTH + 2.5
    elif kind == "parking":
        side = 1 if rng.uniform() < 0.5 else -1
        near = per_dir * LANE_WIDTH + SIDEWALK + 1.0
        depth = float(rng.uniform(16.0, 26.0))
        a0 = float(rng.uniform(-40, -10))
        lot = (a0, a0 + float(rng.uniform(35, 70)), *sorted((side * near, side * (near + depth))))
    palette = {
        "grass": tuple(int(v) for v in rng.integers([55, 95, 40], [80, 125, 60])),
        "soil": tuple(int(v) for v in rng.integers([120, 105, 80], [150, 130, 100])),
        "asphalt": tuple([int(rng.integers(68, 96))] * 3),
        "sidewalk": tuple([int(rng.integers(150, 185))] * 3),
    }
    buildings, trees = _dressing(rng, road_angle, per_dir, kind, cross_angle, lot)
    return Scene(kind=kind, road_angle=road_angle, lanes_per_direction=per_dir, lanes=tuple(lanes),
                 cross_angle=cross_angle, lot=lot, junction=junction, buildings=tuple(buildings), trees=tuple(trees),
                 palette=palette)  # type: ignore[arg-type]


def _dressing(rng: np.random.Generator, road_angle: float, per_dir: int, kind: str, cross_angle: float,
              lot: tuple[float, float, float, float] | None) -> tuple[list[tuple[float, ...]], list[tuple[float, float, float]]]:
    """Buildings and trees beside the road(s), never on them (nothing may hide a vehicle)."""
    u, n = np.array(_unit(road_angle)), np.array(_unit(road_angle + math.pi / 2))
    clear = per_dir * LANE_WIDTH + SIDEWALK + 2.0
    buildings: list[tuple[float, ...]] = []
    trees: list[tuple[float, float, float]] = []

    def free(p: np.ndarray, r: float) -> bool:
        if abs(float(p @ n)) < clear + r:
            return False
        if kind == "intersection":
            nc = np.array(_unit(cross_angle + math.pi / 2))
            if abs(float(p @ nc)) < LANE_WIDTH + SIDEWALK + 2.0 + r:
                return False
        if lot is not None:
            a, c = float(p @ u), float(p @ n)
            if lot[0] - r - 3 < a < lot[1] + r + 3 and lot[2] - r - 3 < c < lot[3] + r + 3:
                return False
        return all(math.hypot(p[0] - b[0], p[1] - b[1]) > r + max(b[2], b[3]) / 2 + 2 for b in buildings)

    for _ in range(60):
        along, side = float(rng.uniform(-160, 160)), float(rng.choice([-1, 1]))
        lb, wb = float(rng.uniform(10, 30)), float(rng.uniform(8, 18))
        p = along * u + side * (clear + wb / 2 + float(rng.uniform(2, 30))) * n
        if free(p, math.hypot(lb, wb) / 2):
            buildings.append((float(p[0]), float(p[1]), lb, wb, road_angle, float(rng.integers(0, 4))))
    for _ in range(220):
        along, side = float(rng.uniform(-170, 170)), float(rng.choice([-1, 1]))
        r = float(rng.uniform(1.5, 3.2))
        p = along * u + side * (clear + r + float(rng.uniform(0.5, 25))) * n
        if free(p, r):
            trees.append((float(p[0]), float(p[1]), r))
    return buildings, trees


# --------------------------------------------------------------------------- the ground picture


def _noise(rng: np.random.Generator, h: int, w: int, cell: float, amp: float) -> np.ndarray:
    """Smooth value noise (float32, about -amp..amp) with features about ``cell`` pixels wide."""
    gh, gw = max(2, int(h / cell) + 2), max(2, int(w / cell) + 2)
    small = rng.standard_normal((gh, gw)).astype(np.float32)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC) * amp


class _Painter:
    """Draws world-metre polygons into the ground raster (origin ``x0, y0``, ``gsd`` px/m)."""

    def __init__(self, img: np.ndarray, x0: float, y0: float, gsd: float) -> None:
        self.img, self.x0, self.y0, self.gsd = img, x0, y0, gsd

    def px(self, pts: np.ndarray) -> np.ndarray:
        p = (np.asarray(pts, float) - (self.x0, self.y0)) * self.gsd - 0.5
        return np.round(p * 16).astype(np.int32)

    def poly(self, pts: np.ndarray, rgb: tuple[float, ...], target: np.ndarray | None = None) -> None:
        cv2.fillPoly(self.img if target is None else target, [self.px(pts)], tuple(float(c) for c in rgb[::-1]),
                     cv2.LINE_AA, 4)

    def band(self, a: np.ndarray, b: np.ndarray, width: float, rgb: tuple[float, ...]) -> None:
        """A straight strip of ``width`` metres from world point ``a`` to ``b``."""
        d = b - a
        nrm = np.array([-d[1], d[0]]) / (np.linalg.norm(d) + 1e-12) * width / 2
        self.poly(np.array([a + nrm, b + nrm, b - nrm, a - nrm]), rgb)


def _road(p: _Painter, angle: float, per_dir: int, span: float, asphalt: tuple[int, ...], sidewalk: tuple[int, ...]) -> None:
    u = np.array(_unit(angle))
    half = per_dir * LANE_WIDTH + 0.3
    a, b = -span * u, span * u
    p.band(a, b, 2 * (half + SIDEWALK), sidewalk)
    p.band(a, b, 2 * half + 0.3, (110, 110, 108))  # kerb
    p.band(a, b, 2 * half, asphalt)


def _markings(p: _Painter, angle: float, per_dir: int, span: float, centre_yellow: bool, skip: float) -> None:
    """Lane lines; ``skip``: half length of a junction box left unmarked."""
    u, n = np.array(_unit(angle)), np.array(_unit(angle + math.pi / 2))
    white, yellow = (228, 228, 222), (222, 186, 52)
    half = per_dir * LANE_WIDTH

    def segments(dash: float, gap: float) -> list[tuple[float, float]]:
        out, s = [], -span
        while s < span:
            e = min(s + dash, span)
            if not (skip and -skip < s < skip or skip and -skip < e < skip or skip and s < -skip and e > skip):
                out.append((s, e))
            s += dash + gap
        return out

    solid = segments(2 * span, 0.0) if not skip else [(-span, -skip), (skip, span)]
    for off in (-half + 0.25, half - 0.25):  # edge lines
        for s, e in solid:
            p.band(s * u + off * n, e * u + off * n, 0.15, white)
    for s, e in solid:  # centre line
        if centre_yellow:
            for off in (-0.12, 0.12):
                p.band(s * u + off * n, e * u + off * n, 0.12, yellow)
        else:
            p.band(s * u, e * u, 0.15, white)
    for k in range(1, per_dir):  # dashed lines between lanes of one direction
        for sgn in (-1, 1):
            off = sgn * k * LANE_WIDTH
            for s, e in segments(3.0, 6.0):
                p.band(s * u + off * n, e * u + off * n, 0.15, white)


def _zebra(p: _Painter, angle: float, width: float, at: float) -> None:
    """A pedestrian crossing across a road of direction ``angle``, ``at`` metres from the junction centre."""
    u, n = np.array(_unit(angle)), np.array(_unit(angle + math.pi / 2))
    k = -width / 2 + 0.5
    while k < width / 2 - 0.4:
        p.band(at * u + k * n, (at + 3.0 * np.sign(at)) * u + k * n, 0.5, (226, 226, 220))
        k += 1.0


def render_ground(scene: Scene, rng: np.random.Generator, x0: float, y0: float, x1: float, y1: float,
                  gsd: float, sun: tuple[float, float], white_balance: tuple[float, float, float]) -> np.ndarray:
    """The background (BGR uint8) covering world [x0, x1] x [y0, y1] at ``gsd`` pixels per metre.

    ``sun``: shadow offset (metres per metre of height, world x/y); buildings and trees cast
    shadows in that direction, consistently with the vehicles' shadows in the same clip.
    """
    w, h = int(math.ceil((x1 - x0) * gsd)), int(math.ceil((y1 - y0) * gsd))
    pal = scene.palette
    g = np.array(pal["grass"][::-1], np.float32)
    s = np.array(pal["soil"][::-1], np.float32)
    mix = np.clip(0.5 + _noise(rng, h, w, 14 * gsd, 0.45), 0, 1)[..., None]
    base = g * (1 - mix) + s * mix
    base += _noise(rng, h, w, 2.5 * gsd, 8.0)[..., None]
    img = np.clip(base, 0, 255).astype(np.uint8)
    p = _Painter(img, x0, y0, gsd)
    span = 2 * max(abs(x0), abs(x1), abs(y0), abs(y1)) + 50
    shadow_k = 0.55

    # shadows of buildings and trees first, then the objects
    shadow = np.zeros((h, w), np.uint8)
    sp = _Painter(shadow, x0, y0, gsd)
    for bx, by, lb, wb, ang, _ in scene.buildings:
        poly = _box(bx, by, lb, wb, ang)
        hb = 6.0 + (lb * 7 % 9)
        moved = poly + np.array(sun) * hb
        hull = cv2.convexHull(np.concatenate([poly, moved]).astype(np.float32))[:, 0, :]
        sp.poly(hull, (255,))
    for tx, ty, r in scene.trees:
        sp.poly(_circle(tx + sun[0] * 4, ty + sun[1] * 4, r), (255,))

    ups = scene.lanes_per_direction
    if scene.kind == "parking" and scene.lot is not None:
        u, n = np.array(_unit(scene.road_angle)), np.array(_unit(scene.road_angle + math.pi / 2))
        a0, a1, c0, c1 = scene.lot
        corners = np.array([a0 * u + c0 * n, a1 * u + c0 * n, a1 * u + c1 * n, a0 * u + c1 * n])
        p.poly(corners, pal["asphalt"])
        near, far = (c0, c1) if abs(c0) < abs(c1) else (c1, c0)
        sgn = math.copysign(1, far)
        depth = 5.2
        for row_c in (near + sgn * 0.4, far - sgn * (depth + 0.4)):
            a = a0 + 1.0
            while a + 2.6 < a1:
                for k in (0.0, 2.6):
                    p.band((a + k) * u + row_c * n, (a + k) * u + (row_c + sgn * depth) * n, 0.12, (226, 226, 220))
                if rng.uniform() < 0.35:  # oil stain
                    c = (a + 1.3) * u + (row_c + sgn * depth / 2) * n
                    p.poly(_circle(c[0], c[1], float(rng.uniform(0.3, 0.7))), tuple(v * 0.8 for v in pal["asphalt"]))
                a += 2.6
        drive = (a0 + a1) / 2
        p.poly(np.array([(drive - 4) * u, (drive + 4) * u, (drive + 4) * u + near * n, (drive - 4) * u + near * n]),
               pal["asphalt"])
    if scene.kind == "intersection":  # crossing road under the main one, then its asphalt over both
        _road(p, scene.cross_angle, 1, span, pal["asphalt"], pal["sidewalk"])
    _road(p, scene.road_angle, ups, span, pal["asphalt"], pal["sidewalk"])
    if scene.kind == "intersection":
        uc = np.array(_unit(scene.cross_angle))
        p.band(-span * uc, span * uc, 2 * (LANE_WIDTH + 0.3), pal["asphalt"])
    # asphalt texture and repair patches, then the paint on top
    asphalt_mask = np.all(np.abs(img.astype(np.int16) - np.array(pal["asphalt"][::-1], np.int16)) <= 1, axis=2)
    grain = _noise(rng, h, w, 0.6 * gsd, 6.0) + rng.standard_normal((h, w)).astype(np.float32) * 3.0
    img16 = img.astype(np.float32)
    img16[asphalt_mask] += grain[asphalt_mask][:, None]
    img[:] = np.clip(img16, 0, 255).astype(np.uint8)
    for _ in range(int(rng.integers(2, 7))):
        u = np.array(_unit(scene.road_angle))
        c = float(rng.uniform(-60, 60)) * u
        patch = _box(float(c[0]), float(c[1]), float(rng.uniform(1.5, 5)), float(rng.uniform(1, 2.5)),
                     scene.road_angle + float(rng.uniform(-0.2, 0.2)))
        p.poly(patch, tuple(v * 0.88 for v in pal["asphalt"]))
    if scene.kind == "intersection":
        j = scene.junction
        _markings(p, scene.road_angle, ups, span, True, j)
        _markings(p, scene.cross_angle, 1, span, False, ups * LANE_WIDTH + 2.5)
        for at in (-(j + 0.5), j + 0.5):
            _zebra(p, scene.road_angle, 2 * ups * LANE_WIDTH, at)
        for at in (-(LANE_WIDTH * ups + 3.0), LANE_WIDTH * ups + 3.0):
            _zebra(p, scene.cross_angle, 2 * LANE_WIDTH, at)
    else:
        _markings(p, scene.road_angle, ups, span, True, 0.0)
    # shadows darken whatever lies under them (a little blurred: soft edges)
    shadow = cv2.GaussianBlur(shadow, (0, 0), max(0.6, 0.25 * gsd))
    k = (1.0 - shadow_k * shadow.astype(np.float32) / 255.0)[..., None]
    img[:] = np.clip(img.astype(np.float32) * k, 0, 255).astype(np.uint8)
    roofs = [(150, 150, 152), (168, 92, 70), (92, 96, 104), (200, 196, 186)]
    for bx, by, lb, wb, ang, shade in scene.buildings:
        c = roofs[int(shade) % len(roofs)]
        p.poly(_box(bx, by, lb, wb, ang), tuple(v * 0.8 for v in c))
        p.poly(_box(bx, by, lb - 0.8, wb - 0.8, ang), c)
        p.poly(_box(bx + 0.2 * lb * math.cos(ang), by + 0.2 * lb * math.sin(ang), 2.0, 2.0, ang), (120, 122, 126))
    for tx, ty, r in scene.trees:
        p.poly(_circle(tx, ty, r), (40, 78, 36))
        p.poly(_circle(tx - 0.25 * r, ty - 0.25 * r, 0.6 * r), (58, 100, 48))
    wb_ = np.array(white_balance[::-1], np.float32)
    return np.clip(img.astype(np.float32) * wb_, 0, 255).astype(np.uint8)


def _box(cx: float, cy: float, length: float, width: float, angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    pts = np.array([[length / 2, -width / 2], [length / 2, width / 2], [-length / 2, width / 2], [-length / 2, -width / 2]])
    return pts @ np.array([[c, s], [-s, c]]) + (cx, cy)


def _circle(cx: float, cy: float, r: float, n: int = 16) -> np.ndarray:
    a = np.linspace(0, 2 * math.pi, n, endpoint=False)
    return np.stack([cx + r * np.cos(a), cy + r * np.sin(a)], axis=1)
