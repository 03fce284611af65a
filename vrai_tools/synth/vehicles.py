"""Vehicles seen from above: types, shapes, colours, the four attributes and distinctive marks.

A vehicle is drawn as a list of polygons in its own frame (metres; x forward, y to the
right, origin at the centre) so the renderer only has to move them into the picture.
The same polygons give the ground truth: the outline's corners, the paint region used
to check the colour, and each mark's footprint (its part box).

Look-alikes are made on purpose (paper Fig. 1): vehicles are drawn from a small catalog
of *models* with skewed popularity, colours mostly take their class's canonical shade,
so many vehicles differ only by their marks.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

__all__ = ["COLOR_SHADES", "COLOR_WEIGHTS", "FLAG_PROBABILITY", "MARK_COUNT_WEIGHTS", "TYPE_WEIGHTS", "Catalog",
           "Layer", "Mark", "VehicleModel", "VehicleSpec", "make_catalog", "sample_vehicle", "vehicle_layers"]

Poly = np.ndarray  # (n, 2) float64, local metres
RGB = tuple[int, int, int]

# Paper Fig. 3: white, black and gray dominate colours; sedan, SUV and hatchback types.
COLOR_WEIGHTS: dict[str, float] = {
    "White": 0.31, "Black": 0.22, "Gray": 0.19, "Red": 0.07, "Blue": 0.07,
    "Green": 0.03, "Yellow": 0.03, "Brown": 0.03, "Other": 0.05,
}
# Shades per colour class (RGB), canonical first. Classes stay apart under the renderer's
# lighting (gain 0.85-1.15): white >= 220, gray 75..150, black <= 40.
COLOR_SHADES: dict[str, list[RGB]] = {
    "White": [(236, 236, 232), (226, 229, 232), (240, 236, 222)],
    "Black": [(24, 24, 27), (34, 31, 30), (20, 24, 34)],
    "Gray": [(132, 134, 137), (104, 106, 110), (150, 150, 146)],
    "Red": [(172, 28, 30), (196, 44, 36), (138, 22, 30)],
    "Green": [(42, 112, 56), (30, 88, 62), (84, 124, 44)],
    "Blue": [(32, 62, 152), (46, 86, 178), (26, 44, 112)],
    "Yellow": [(228, 192, 36), (240, 206, 70)],
    "Brown": [(112, 74, 46), (134, 94, 58), (92, 64, 42)],
    "Other": [(236, 122, 28), (112, 46, 142), (224, 118, 170), (22, 140, 142)],
}
TYPE_WEIGHTS: dict[str, float] = {
    "Sedan": 0.42, "SUV": 0.21, "Hatchback": 0.17, "Truck": 0.06, "Lorry": 0.05, "Bus": 0.04, "Other": 0.05,
}
# (skylight, bumper, spare_tire, luggage_rack) probabilities per type
FLAG_PROBABILITY: dict[str, tuple[float, float, float, float]] = {
    "Sedan": (0.30, 0.35, 0.00, 0.04),
    "Hatchback": (0.20, 0.35, 0.03, 0.12),
    "SUV": (0.35, 0.45, 0.22, 0.35),
    "Truck": (0.03, 0.60, 0.04, 0.10),
    "Lorry": (0.00, 0.70, 0.00, 0.00),
    "Bus": (0.00, 0.50, 0.00, 0.00),
    "Other": (0.10, 0.45, 0.12, 0.15),
}
# number of distinctive marks per vehicle: ~8 % none, most 2-4 (paper Fig. 3)
MARK_COUNT_WEIGHTS = (0.075, 0.14, 0.30, 0.29, 0.14, 0.055)

# (length range, width range, height range) in metres
_SIZES: dict[str, tuple[tuple[float, float], tuple[float, float], tuple[float, float]]] = {
    "Sedan": ((4.4, 4.95), (1.74, 1.86), (1.40, 1.50)),
    "Hatchback": ((3.7, 4.2), (1.64, 1.78), (1.45, 1.55)),
    "SUV": ((4.4, 4.9), (1.84, 1.98), (1.65, 1.80)),
    "Truck": ((5.0, 5.5), (1.84, 1.96), (1.75, 1.90)),
    "Lorry": ((6.5, 9.0), (2.2, 2.5), (2.9, 3.5)),
    "Bus": ((10.0, 12.0), (2.45, 2.55), (3.0, 3.3)),
    "Other": ((4.7, 5.3), (1.86, 2.0), (1.9, 2.1)),
}
MODELS_PER_TYPE = 4
MODEL_POPULARITY = (0.7, 0.15, 0.1, 0.05)  # the best-selling model of each type is everywhere...
CANONICAL_SHADE = 0.85  # ...mostly in its colour's usual shade: exact look-alikes are common
MIRROR = 0.11  # metres the mirrors stick out; the painted body is that much narrower than the outline

WINDOW = (38, 44, 54)
WINDOW_SHEEN = (70, 80, 96)
RUBBER = (30, 30, 32)
TAIL_LIGHT = (190, 30, 34)
HEAD_LIGHT = (236, 232, 204)
RAIL = (60, 60, 64)


@dataclass(frozen=True)
class VehicleModel:
    """A make/model: shape and size shared by every vehicle built from it."""

    id: str
    type: str
    length: float
    width: float
    height: float
    stations: tuple[float, ...]  # fractions of length from the front: windscreen start, roof start, roof end, rear glass end
    cabin: float  # greenhouse width as a fraction of the body width
    corner: float  # corner radius, metres


@dataclass(frozen=True)
class Catalog:
    models: dict[str, list[VehicleModel]]  # type -> models, most popular first


@dataclass
class Layer:
    """One filled polygon. ``paint``: shows the body colour (used to check colours);
    ``mark``: index of the mark it belongs to, or -1."""

    poly: Poly
    rgb: tuple[float, float, float]
    paint: bool = False
    mark: int = -1
    feature: str = ""  # which attribute it shows: skylight, bumper, spare_tire, luggage_rack


@dataclass
class Mark:
    """A distinctive mark = one ground-truth discriminative part."""

    kind: str
    layers: list[Layer]

    @property
    def footprint(self) -> Poly:
        return np.concatenate([ly.poly for ly in self.layers])

    def to_json(self) -> dict[str, object]:
        pts = self.footprint
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        return {"kind": self.kind, "local_box": [round(float(v), 3) for v in (*lo, *hi)]}


@dataclass
class VehicleSpec:
    id: int
    model: VehicleModel
    color: str
    rgb: RGB
    flags: dict[str, bool]
    marks: list[Mark] = field(default_factory=list)
    layers: list[Layer] = field(default_factory=list)
    _mark_points: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False, compare=False)

    @property
    def type(self) -> str:
        return self.model.type

    @property
    def length(self) -> float:
        return self.model.length

    @property
    def width(self) -> float:
        return self.model.width

    @property
    def look(self) -> tuple[str, str, RGB, tuple[bool, ...]]:
        """What tells two vehicles apart without their marks: equal looks are look-alikes."""
        return (self.model.id, self.color, self.rgb, tuple(self.flags[f] for f in sorted(self.flags)))

    def mark_points(self) -> tuple[np.ndarray, np.ndarray]:
        """All marks' footprint points stacked, and where each mark starts (for ``reduceat``)."""
        if self._mark_points is None:
            fps = [m.footprint for m in self.marks]
            starts = np.cumsum([0] + [len(f) for f in fps[:-1]])
            self._mark_points = (np.concatenate(fps), starts)
        return self._mark_points

    def attributes(self) -> dict[str, object]:
        return {"color": self.color, "type": self.type, **self.flags}

    def corners_local(self) -> Poly:
        """The outline's corners an annotator clicks: front-left, front-right, rear-right, rear-left."""
        hl, hw = self.length / 2, self.width / 2
        return np.array([[hl, -hw], [hl, hw], [-hl, hw], [-hl, -hw]])


# --------------------------------------------------------------------------- catalog and sampling


def pick(rng: np.random.Generator, weights: "np.ndarray | tuple[float, ...] | list[float]") -> int:
    """Index drawn with probabilities proportional to ``weights`` (10x cheaper than
    ``rng.choice(p=...)``, which matters for 13,000 vehicles)."""
    c = np.cumsum(weights)
    return min(int(np.searchsorted(c, rng.random() * c[-1], side="right")), len(c) - 1)


def _choice(rng: np.random.Generator, weights: dict[str, float]) -> str:
    keys = list(weights)
    return keys[pick(rng, [weights[k] for k in keys])]


def make_catalog(rng: np.random.Generator) -> Catalog:
    models: dict[str, list[VehicleModel]] = {}
    for t, ((l0, l1), (w0, w1), (h0, h1)) in _SIZES.items():
        out = []
        for m in range(MODELS_PER_TYPE):
            u = rng.uniform(size=8)
            if t == "Sedan":
                st = (0.30 + 0.05 * u[0], 0.44 + 0.05 * u[1], 0.70 + 0.04 * u[2], 0.80 + 0.03 * u[3])
            elif t == "Hatchback":
                st = (0.24 + 0.05 * u[0], 0.40 + 0.05 * u[1], 0.84 + 0.04 * u[2], 0.95)
            elif t in ("SUV", "Other"):
                short = 0.18 if t == "Other" else 0.26
                st = (short + 0.05 * u[0], short + 0.14 + 0.04 * u[1], 0.88 + 0.04 * u[2], 0.96)
            elif t == "Truck":
                st = (0.25 + 0.04 * u[0], 0.36 + 0.04 * u[1], 0.55 + 0.04 * u[2], 0.58 + 0.03 * u[3])
            elif t == "Lorry":
                st = (0.02, 0.06, 0.22 + 0.05 * u[2], 0.26 + 0.05 * u[2])
            else:  # Bus
                st = (0.01, 0.035, 0.99, 1.0)
            cabin = {"Bus": 0.96, "Lorry": 0.96}.get(t, 0.80 + 0.06 * u[4])
            corner = {"Bus": 0.25, "Lorry": 0.15}.get(t, 0.30 + 0.15 * u[5])
            out.append(VehicleModel(
                id=f"{t.lower()}-{m}", type=t,
                length=round(l0 + (l1 - l0) * u[6], 3), width=round(w0 + (w1 - w0) * u[7], 3),
                height=round(h0 + (h1 - h0) * float(rng.uniform()), 3),
                stations=tuple(round(s, 4) for s in st), cabin=round(cabin, 4), corner=round(corner, 3),
            ))
        models[t] = out
    return Catalog(models)


def sample_vehicle(rng: np.random.Generator, catalog: Catalog, vehicle_id: int) -> VehicleSpec:
    t = _choice(rng, TYPE_WEIGHTS)
    pop = np.array(MODEL_POPULARITY)
    model = catalog.models[t][pick(rng, pop)]
    color = _choice(rng, COLOR_WEIGHTS)
    shades = COLOR_SHADES[color]
    if color == "Other":
        rgb = shades[int(rng.integers(len(shades)))]
    else:
        rest = ((1 - CANONICAL_SHADE) / (len(shades) - 1),) * (len(shades) - 1)
        rgb = shades[pick(rng, (CANONICAL_SHADE, *rest))]
    probs = FLAG_PROBABILITY[t]
    flags = {name: bool(rng.uniform() < p) for name, p in zip(("skylight", "bumper", "spare_tire", "luggage_rack"), probs)}
    spec = VehicleSpec(id=vehicle_id, model=model, color=color, rgb=rgb, flags=flags)
    base = _base_layers(spec)
    n_marks = pick(rng, MARK_COUNT_WEIGHTS)
    blockers = [ly.poly for ly in base if ly.feature in ("skylight", "luggage_rack", "spare_tire")]
    spec.marks = _place_marks(rng, spec, n_marks, blockers)
    spec.layers = base + [ly for i, m in enumerate(spec.marks) for ly in _tag(m.layers, i)]
    return spec


def vehicle_layers(spec: VehicleSpec) -> list[Layer]:
    return spec.layers


def _tag(layers: list[Layer], index: int) -> list[Layer]:
    for ly in layers:
        ly.mark = index
    return layers


# --------------------------------------------------------------------------- shapes


def rect(x0: float, x1: float, y0: float, y1: float) -> Poly:
    return np.array([[x1, y0], [x1, y1], [x0, y1], [x0, y0]], float)


def rounded_rect(x0: float, x1: float, y0: float, y1: float, r: float, steps: int = 3) -> Poly:
    r = max(0.0, min(r, (x1 - x0) / 2 - 1e-3, (y1 - y0) / 2 - 1e-3))
    if r <= 0:
        return rect(x0, x1, y0, y1)
    pts = []
    for cx, cy, a0 in ((x1 - r, y0 + r, -90), (x1 - r, y1 - r, 0), (x0 + r, y1 - r, 90), (x0 + r, y0 + r, 180)):
        for k in range(steps + 1):
            a = math.radians(a0 + 90 * k / steps)
            pts.append((cx + r * math.cos(a), cy + r * math.sin(a)))
    return np.array(pts, float)


def ellipse(cx: float, cy: float, rx: float, ry: float, n: int = 12, angle: float = 0.0) -> Poly:
    a = np.linspace(0, 2 * math.pi, n, endpoint=False)
    x, y = rx * np.cos(a), ry * np.sin(a)
    c, s = math.cos(angle), math.sin(angle)
    return np.stack([cx + c * x - s * y, cy + s * x + c * y], axis=1)


def trapezoid(x_wide: float, x_narrow: float, half_wide: float, half_narrow: float) -> Poly:
    return np.array([[x_wide, -half_wide], [x_wide, half_wide], [x_narrow, half_narrow], [x_narrow, -half_narrow]], float)


def _shade(rgb: RGB, k: float, add: float = 0.0) -> tuple[float, float, float]:
    return tuple(float(min(255.0, max(0.0, c * k + add))) for c in rgb)  # type: ignore[return-value]


def _regions(spec: VehicleSpec) -> dict[str, tuple[float, float, float, float]]:
    """Where marks may go: name -> (x0, x1, y0, y1) in local metres."""
    m = spec.model
    L, W = m.length, m.width - 2 * MIRROR
    front = L / 2
    ws, rs, re_, rg = (front - s * L for s in m.stations)
    half_cab = W * m.cabin / 2
    out: dict[str, tuple[float, float, float, float]] = {}
    if m.type == "Bus":
        out["roof"] = (-L / 2 + 0.4, rs - 0.3, -W / 2 + 0.25, W / 2 - 0.25)
    elif m.type == "Lorry":
        out["roof"] = (-L / 2 + 0.2, rg - 0.2, -W / 2 + 0.12, W / 2 - 0.12)  # the cargo box top
        out["cab"] = (re_ + 0.1, rs - 0.05, -half_cab + 0.1, half_cab - 0.1)
    else:
        out["roof"] = (re_ + 0.08, rs - 0.08, -half_cab + 0.1, half_cab - 0.1)
        out["hood"] = (ws + 0.12, front - 0.28, -W / 2 + 0.18, W / 2 - 0.18)
        out["windscreen"] = (rs + 0.04, ws - 0.04, -half_cab + 0.12, half_cab - 0.12)
        if m.type == "Sedan":
            out["trunk"] = (-L / 2 + 0.2, rg - 0.06, -W / 2 + 0.2, W / 2 - 0.2)
        if m.type == "Truck":
            out["bed"] = (-L / 2 + 0.15, rg - 0.15, -W / 2 + 0.15, W / 2 - 0.15)
    return out


def _base_layers(spec: VehicleSpec) -> list[Layer]:
    m, rgb = spec.model, spec.rgb
    L, W = m.length, m.width - 2 * MIRROR
    hl, hw = L / 2, W / 2
    front = hl
    ws, rs, re_, rg = (front - s * L for s in m.stations)
    half_cab = W * m.cabin / 2
    paint = _shade(rgb, 1.0)
    roof = _shade(rgb, 1.04, 4)
    dark_paint = _shade(rgb, 0.72)
    out = [Layer(rounded_rect(-hl, hl, -hw, hw, m.corner), paint, paint=True)]
    lights_x = (front - 0.09, front - 0.02)
    if m.type in ("Bus", "Lorry"):
        out.append(Layer(rect(rs, ws, -hw + 0.06, hw - 0.06), WINDOW))  # windscreen sliver at the front
        if m.type == "Lorry":  # the gap between the cab and the cargo box
            out.append(Layer(rect(rg - 0.12, re_ + 0.02, -hw, hw), RUBBER))
            out.append(Layer(rect(re_ + 0.02, rs, -half_cab, half_cab), roof, paint=True))
            for k in range(1, 5):  # panel seams on the box
                x = -hl + (rg - 0.12 + hl) * k / 5
                out.append(Layer(rect(x - 0.02, x + 0.02, -hw + 0.08, hw - 0.08), dark_paint))
        else:
            out.append(Layer(rect(-hl + 0.2, rs - 0.1, -hw, -hw + 0.12), WINDOW))  # side windows seen from above
            out.append(Layer(rect(-hl + 0.2, rs - 0.1, hw - 0.12, hw), WINDOW))
            for k, x in enumerate((hl * 0.45, -hl * 0.35)):  # air-conditioning units
                out.append(Layer(rect(x - 0.7, x + 0.7, -0.55, 0.55), (176, 178, 180)))
                out.append(Layer(rect(x - 0.55, x + 0.55, -0.4, 0.4), (150, 152, 156)))
    else:
        out.append(Layer(trapezoid(ws, rs, half_cab * 0.96, half_cab * 0.84), WINDOW))  # windscreen
        out.append(Layer(trapezoid(ws - 0.05, ws - 0.18, half_cab * 0.7, half_cab * 0.6), WINDOW_SHEEN))
        out.append(Layer(rect(re_, rs, -half_cab, half_cab), WINDOW))  # side glass strips around the roof
        out.append(Layer(rounded_rect(re_ + 0.04, rs - 0.04, -half_cab + 0.1, half_cab - 0.1, 0.12), roof, paint=True))
        out.append(Layer(trapezoid(rg, re_, half_cab * 0.9, half_cab * 0.82), WINDOW))  # rear glass
        if m.type == "Truck":  # the open bed
            out.append(Layer(rect(-hl + 0.1, rg - 0.08, -hw + 0.1, hw - 0.1), dark_paint))
            for k in range(1, 5):
                y = -hw + W * k / 5
                out.append(Layer(rect(-hl + 0.15, rg - 0.12, y - 0.025, y + 0.025), _shade(rgb, 0.6)))
        # mirrors stick out by MIRROR on each side at the windscreen base
        for sgn in (-1, 1):
            y0, y1 = sorted((sgn * hw, sgn * (hw + MIRROR)))
            out.append(Layer(rect(ws - 0.22, ws - 0.02, y0, y1), dark_paint))
    for sgn in (-1, 1):  # head and tail lights at the corners
        y_out, y_in = sgn * (hw - 0.12), sgn * (hw - 0.42)
        out.append(Layer(rect(*lights_x, *sorted((y_out, y_in))), HEAD_LIGHT))
        out.append(Layer(rect(-hl + 0.02, -hl + 0.08, *sorted((y_out, y_in))), TAIL_LIGHT))
    f = spec.flags
    if f["bumper"]:
        out.append(Layer(rect(front - 0.07, front, -hw + 0.16, hw - 0.16), RUBBER, feature="bumper"))
        out.append(Layer(rect(-hl, -hl + 0.07, -hw + 0.16, hw - 0.16), RUBBER, feature="bumper"))
    if f["skylight"]:
        cx = (rs + re_) / 2 + 0.15 if m.type not in ("Bus", "Lorry") else hl * 0.1
        out.append(Layer(rect(cx - 0.36, cx + 0.36, -0.38, 0.38), (50, 52, 58), feature="skylight"))
        out.append(Layer(rect(cx - 0.3, cx + 0.3, -0.32, 0.32), WINDOW, feature="skylight"))
    if f["luggage_rack"]:
        for sgn in (-1, 1):
            y = sgn * (half_cab - 0.2)
            out.append(Layer(rect(re_ + 0.05, rs - 0.05, y - 0.04, y + 0.04), RAIL, feature="luggage_rack"))
        for x in (rs - 0.35, re_ + 0.35):
            out.append(Layer(rect(x - 0.035, x + 0.035, -half_cab + 0.2, half_cab - 0.2), RAIL, feature="luggage_rack"))
    if f["spare_tire"]:
        cx = -hl + 0.36
        out.append(Layer(ellipse(cx, 0.0, 0.33, 0.33, 14), RUBBER, feature="spare_tire"))
        out.append(Layer(ellipse(cx, 0.0, 0.15, 0.15, 10), (120, 120, 124), feature="spare_tire"))
    return out


# --------------------------------------------------------------------------- marks

_VIVID: list[RGB] = [(230, 40, 40), (250, 200, 30), (40, 170, 70), (40, 110, 230), (245, 245, 245), (20, 20, 20),
                     (240, 130, 20), (160, 60, 200), (0, 190, 200), (255, 105, 180)]
_STICKERS: list[RGB] = [(245, 245, 240), (60, 140, 230), (90, 200, 100), (250, 210, 40), (235, 80, 60)]
# kind -> (regions it may go, weight)
_MARK_KINDS: dict[str, tuple[tuple[str, ...], float]] = {
    "roof_decal": (("roof", "cab"), 0.20),
    "hood_stripes": (("hood",), 0.10),
    "windscreen_sticker": (("windscreen",), 0.14),
    "dashboard_ornament": (("windscreen",), 0.08),
    "roof_cargo": (("roof",), 0.10),
    "scrape": (("hood", "roof", "trunk", "cab", "bed"), 0.13),
    "sunroof_pattern": (("roof",), 0.07),
    "roof_number": (("roof",), 0.08),
    "roof_sign": (("roof", "cab"), 0.05),
    "trunk_decal": (("trunk", "bed", "hood"), 0.05),
}


def _contrast(rng: np.random.Generator, body: RGB) -> RGB:
    lum = 0.3 * body[0] + 0.59 * body[1] + 0.11 * body[2]
    pool = [c for c in _VIVID if abs(0.3 * c[0] + 0.59 * c[1] + 0.11 * c[2] - lum) > 50 or
            sum(abs(a - b) for a, b in zip(c, body)) > 200]
    return pool[int(rng.integers(len(pool)))]


_SEGMENTS = {  # seven-segment digits: a b c d e f g
    0: "abcdef", 1: "bc", 2: "abdeg", 3: "abcdg", 4: "bcfg", 5: "acdfg", 6: "acdefg", 7: "abc", 8: "abcdefg", 9: "abcdfg",
}


def _digit(d: int, x: float, y: float, h: float, stroke: float) -> list[Poly]:
    """A seven-segment digit of height ``h`` read from the vehicle's rear, centred on (x, y):
    'up' is the vehicle's forward direction (+x), 'right' its +y."""
    w = h * 0.55
    up, right = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    c = np.array([x, y])
    def seg(p0: tuple[float, float], p1: tuple[float, float]) -> Poly:
        a = c + p0[0] * right * w + p0[1] * up * h
        b = c + p1[0] * right * w + p1[1] * up * h
        d_ = (b - a) / (np.linalg.norm(b - a) + 1e-9)
        n = np.array([-d_[1], d_[0]]) * stroke / 2
        return np.array([a + n, b + n, b - n, a - n])
    table = {"a": ((-.5, .5), (.5, .5)), "b": ((.5, .5), (.5, 0)), "c": ((.5, 0), (.5, -.5)), "d": ((-.5, -.5), (.5, -.5)),
             "e": ((-.5, 0), (-.5, -.5)), "f": ((-.5, .5), (-.5, 0)), "g": ((-.5, 0), (.5, 0))}
    return [seg(*table[s]) for s in _SEGMENTS[d]]


def _make_mark(rng: np.random.Generator, kind: str, box: tuple[float, float, float, float], spec: VehicleSpec) -> Mark | None:
    """A mark of ``kind`` somewhere inside ``box`` (x0, x1, y0, y1); None when it does not fit."""
    x0, x1, y0, y1 = box
    bw, bh = x1 - x0, y1 - y0
    if bw <= 0.1 or bh <= 0.1:
        return None

    def place(sx: float, sy: float) -> tuple[float, float] | None:
        if sx > bw + 1e-9 or sy > bh + 1e-9:
            return None
        lo_x, lo_y = x0 + sx / 2, y0 + sy / 2
        return float(rng.uniform(lo_x, max(lo_x, x1 - sx / 2))), float(rng.uniform(lo_y, max(lo_y, y1 - sy / 2)))

    col = _contrast(rng, spec.rgb)
    if kind in ("roof_decal", "trunk_decal"):
        sx, sy = rng.uniform(0.35, 0.8), rng.uniform(0.25, 0.6)
        at = place(sx, sy)
        if at is None:
            return None
        cx, cy = at
        shape = int(rng.integers(3))
        if shape == 0:
            layers = [Layer(rect(cx - sx / 2, cx + sx / 2, cy - sy / 2, cy + sy / 2), col)]
        elif shape == 1:
            layers = [Layer(ellipse(cx, cy, sx / 2, sy / 2, 14), col)]
        else:  # two-tone badge
            col2 = _contrast(rng, col)
            layers = [Layer(rect(cx - sx / 2, cx + sx / 2, cy - sy / 2, cy + sy / 2), col),
                      Layer(rect(cx - sx / 2, cx + sx / 2, cy - sy / 6, cy + sy / 6), col2)]
        return Mark(kind, layers)
    if kind == "hood_stripes":
        sw = rng.uniform(0.12, 0.2)
        gap = rng.uniform(0.08, 0.2)
        if 2 * sw + gap > bh:
            return None
        cy = float(rng.uniform(-0.1, 0.1))
        return Mark(kind, [Layer(rect(x0, x1, cy - gap / 2 - sw, cy - gap / 2), col),
                           Layer(rect(x0, x1, cy + gap / 2, cy + gap / 2 + sw), col)])
    if kind == "windscreen_sticker":
        s = rng.uniform(0.16, 0.26)
        if s > bw or 2 * s > bh:
            return None
        side = 1 if rng.uniform() < 0.5 else -1  # top corner, where inspection stickers go
        cx, cy = x0 + s / 2 + 0.02, side * (bh / 2 - s / 2 - 0.02) + (y0 + y1) / 2
        c = _STICKERS[int(rng.integers(len(_STICKERS)))]
        layers = [Layer(rect(cx - s / 2, cx + s / 2, cy - s / 2, cy + s / 2), c)]
        if rng.uniform() < 0.5:  # a second one beside it
            cy2 = cy - side * s * 1.1
            layers.append(Layer(rect(cx - s / 2, cx + s / 2, cy2 - s / 2, cy2 + s / 2),
                                _STICKERS[int(rng.integers(len(_STICKERS)))]))
        return Mark(kind, layers)
    if kind == "dashboard_ornament":
        rx, ry = rng.uniform(0.12, 0.2), rng.uniform(0.1, 0.18)
        cx = x1 - rx - 0.02
        cy = float(rng.uniform(y0 + ry, y1 - ry)) if bh > 2 * ry else None
        if cy is None or 2 * rx > bw:
            return None
        return Mark(kind, [Layer(ellipse(cx, cy, rx, ry, 10), _VIVID[int(rng.integers(len(_VIVID)))])])
    if kind == "roof_cargo":
        sx, sy = rng.uniform(0.9, 1.6), rng.uniform(0.5, 0.8)
        sx, sy = min(sx, bw), min(sy, bh)
        if sx < 0.6 or sy < 0.4:
            return None
        at = place(sx, sy)
        assert at is not None
        cx, cy = at
        base = [(28, 28, 30), (210, 212, 214), (120, 122, 126), (40, 70, 140)][int(rng.integers(4))]
        return Mark(kind, [Layer(rounded_rect(cx - sx / 2, cx + sx / 2, cy - sy / 2, cy + sy / 2, 0.15), _shade(base, 0.8)),
                           Layer(rounded_rect(cx - sx / 2 + 0.05, cx + sx / 2 - 0.05, cy - sy / 2 + 0.05, cy + sy / 2 - 0.05, 0.12), base),
                           Layer(rect(cx - sx / 2 + 0.1, cx + sx / 2 - 0.1, cy - 0.025, cy + 0.025), _shade(base, 0.7, 10))])
    if kind == "scrape":
        r = rng.uniform(0.14, 0.3)
        at = place(2 * r, 2 * r)
        if at is None:
            return None
        cx, cy = at
        n = 9
        a = np.linspace(0, 2 * math.pi, n, endpoint=False)
        rad = r * rng.uniform(0.55, 1.0, n)
        poly = np.stack([cx + rad * np.cos(a), cy + rad * np.sin(a) * 0.7], axis=1)
        lum = 0.3 * spec.rgb[0] + 0.59 * spec.rgb[1] + 0.11 * spec.rgb[2]
        c = _shade(spec.rgb, 0.45) if lum > 120 else _shade(spec.rgb, 1.0, 110)
        return Mark(kind, [Layer(poly, c)])
    if kind == "sunroof_pattern":
        if spec.flags["skylight"]:
            return None
        n = int(rng.integers(2, 4))
        sx = min(bw * 0.85, 0.45 * n)
        sy = min(bh * 0.8, rng.uniform(0.7, 1.0))
        at = place(sx, sy)
        if at is None:
            return None
        cx, cy = at
        layers = [Layer(rect(cx - sx / 2, cx + sx / 2, cy - sy / 2, cy + sy / 2), (18, 20, 24))]
        step = sx / n
        for k in range(1, n):
            x = cx - sx / 2 + k * step
            layers.append(Layer(rect(x - 0.03, x + 0.03, cy - sy / 2, cy + sy / 2), (150, 152, 156)))
        return Mark(kind, layers)
    if kind == "roof_number":
        h = rng.uniform(0.45, 0.8) if spec.model.type in ("Bus", "Lorry") else rng.uniform(0.35, 0.5)
        digits = [int(d) for d in str(int(rng.integers(1, 100 if spec.model.type in ("Bus", "Lorry") else 10)))]
        w = h * 0.55
        total = len(digits) * w * 1.45
        if h > bw or total > bh:
            return None
        at = place(h, total)
        assert at is not None
        cx, cy = at
        stroke = h * 0.16
        c = (245, 245, 245) if sum(spec.rgb) < 450 else (25, 25, 25)
        layers = []
        for i, d in enumerate(digits):
            y = cy - total / 2 + (i + 0.5) * w * 1.45
            layers.extend(Layer(p, c) for p in _digit(d, cx, y, h, stroke))
        return Mark(kind, layers)
    if kind == "roof_sign":
        sx, sy = rng.uniform(0.22, 0.32), rng.uniform(0.5, 0.7)
        at = place(sx, sy)
        if at is None:
            return None
        cx, cy = at
        c = [(250, 210, 40), (245, 245, 245), (40, 120, 220)][int(rng.integers(3))]
        return Mark(kind, [Layer(rect(cx - sx / 2, cx + sx / 2, cy - sy / 2, cy + sy / 2), _shade(c, 0.75)),
                           Layer(rect(cx - sx / 2 + 0.04, cx + sx / 2 - 0.04, cy - sy / 2 + 0.04, cy + sy / 2 - 0.04), c)])
    raise ValueError(kind)


def _boxes_overlap(a: Poly, b: Poly, margin: float = 0.04) -> bool:
    (ax0, ay0), (ax1, ay1) = a.min(axis=0), a.max(axis=0)
    (bx0, by0), (bx1, by1) = b.min(axis=0), b.max(axis=0)
    return not (ax1 + margin < bx0 or bx1 + margin < ax0 or ay1 + margin < by0 or by1 + margin < ay0)


def _place_marks(rng: np.random.Generator, spec: VehicleSpec, n: int, blockers: list[Poly]) -> list[Mark]:
    """Up to ``n`` marks, not overlapping each other nor the attribute features (``blockers``)."""
    regions = _regions(spec)
    kinds = [k for k, (where, _) in _MARK_KINDS.items() if any(r in regions for r in where)]
    weights = np.array([_MARK_KINDS[k][1] for k in kinds])
    marks: list[Mark] = []
    used_kinds: dict[str, int] = {}
    tries = 0
    while len(marks) < n and tries < 40:
        tries += 1
        kind = kinds[pick(rng, weights)]
        if used_kinds.get(kind, 0) >= (2 if kind in ("scrape", "roof_decal") else 1):
            continue
        where = [r for r in _MARK_KINDS[kind][0] if r in regions]
        mark = _make_mark(rng, kind, regions[where[int(rng.integers(len(where)))]], spec)
        if mark is None:
            continue
        fp = mark.footprint
        if any(_boxes_overlap(fp, m.footprint) for m in marks) or any(_boxes_overlap(fp, b, 0.0) for b in blockers):
            continue
        marks.append(mark)
        used_kinds[kind] = used_kinds.get(kind, 0) + 1
    return marks
