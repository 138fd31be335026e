"""The findings-over-time chart: an inline SVG line chart built from a report's trend.

No script and no external resource: the chart is text inside the HTML report. Each series differs
by dash pattern and marker shape as well as colour, the legend names them, every point carries
its value as a tooltip, and the `<title>`/`<desc>` pair gives screen readers the gist (the report
also prints the numbers as a table).
"""

from dataclasses import dataclass
from html import escape
from math import ceil, floor, log10

from audits.model import TrendPoint

WIDTH, HEIGHT = 720, 300
_LEFT, _RIGHT, _TOP, _BOTTOM = 48, 40, 16, 64
_PLOT_WIDTH = WIDTH - _LEFT - _RIGHT
_PLOT_HEIGHT = HEIGHT - _TOP - _BOTTOM
_MAX_X_LABELS = 8
_TEXT = "#1f2328"
_GRID = "#d0d7de"


@dataclass(frozen=True)
class _Series:
    field: str  # the TrendPoint attribute plotted
    label: str
    colour: str  # each at least 6.5:1 against the white background
    dashes: str
    marker: str


_SERIES = (
    _Series("open", "Open (new included)", "#b3261e", "", "circle"),
    _Series("new", "New", "#5b2a86", "6 4", "square"),
    _Series("fixed", "Fixed", "#1b6b35", "2 3", "triangle"),
    _Series("suppressed", "Suppressed", "#555b61", "10 4 2 4", "diamond"),
)


def trend_svg(points: list[TrendPoint], *, element_id: str = "trend") -> str:
    """The chart for `points` (oldest first); `element_id` prefixes the ids it defines."""
    top = _axis_top(max((_value(point, s) for point in points for s in _SERIES), default=0))
    xs = _x_positions(len(points))

    def y(value: int) -> float:
        return _TOP + _PLOT_HEIGHT * (1 - value / top)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="100%" aria-labelledby="{element_id}-title {element_id}-desc" '
        f'font-family="system-ui, sans-serif" font-size="12" fill="{_TEXT}">',
        f'<title id="{element_id}-title">Findings over time</title>',
        f'<desc id="{element_id}-desc">{escape(_description(points))}</desc>',
    ]
    for tick in range(0, top + 1, top // 4):
        parts.append(
            f'<line x1="{_LEFT}" y1="{y(tick):.1f}" x2="{WIDTH - _RIGHT}" y2="{y(tick):.1f}" '
            f'stroke="{_GRID}" stroke-width="1"/>'
            f'<text x="{_LEFT - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">{tick}</text>'
        )
    for index in _labelled(len(points)):
        parts.append(
            f'<text x="{xs[index]:.1f}" y="{_TOP + _PLOT_HEIGHT + 18}" text-anchor="middle">'
            f"{points[index].started_at.date().isoformat()}</text>"
        )
    for series in _SERIES:
        coordinates = [(x, y(_value(point, series))) for x, point in zip(xs, points, strict=True)]
        path = " ".join(
            f"{'M' if i == 0 else 'L'}{x:.1f},{py:.1f}" for i, (x, py) in enumerate(coordinates)
        )
        parts.append(
            f'<g stroke="{series.colour}" fill="{series.colour}">'
            f'<path d="{path}" fill="none" stroke-width="2" stroke-dasharray="{series.dashes}"/>'
        )
        for (x, py), point in zip(coordinates, points, strict=True):
            tooltip = (
                f"{series.label}: {_value(point, series)} in run {point.run_id} "
                f"({point.started_at.isoformat(timespec='minutes')})"
            )
            parts.append(f"<g>{_marker(series.marker, x, py)}<title>{escape(tooltip)}</title></g>")
        parts.append("</g>")
    parts.append(_legend())
    parts.append("</svg>")
    return "\n".join(parts)


def _value(point: TrendPoint, series: _Series) -> int:
    value: int = getattr(point, series.field)
    return value


def _axis_top(largest: int) -> int:
    """A round top for the y axis, split into four integer steps."""
    quarter = max(largest, 1) / 4
    if quarter <= 10:
        return 4 * ceil(quarter)
    magnitude = 10 ** floor(log10(quarter))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= quarter)
    return int(step * 4)


def _x_positions(count: int) -> list[float]:
    if count == 1:
        return [_LEFT + _PLOT_WIDTH / 2]
    return [_LEFT + _PLOT_WIDTH * index / (count - 1) for index in range(count)]


def _labelled(count: int) -> list[int]:
    """Which runs get a date under the axis: evenly spaced, the latest always, none crowded."""
    if count == 0:
        return []
    step = ceil(count / _MAX_X_LABELS)
    return [index for index in range(0, count, step) if count - 1 - index >= step] + [count - 1]


def _marker(shape: str, x: float, y: float) -> str:
    if shape == "circle":
        return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4"/>'
    if shape == "square":
        return f'<rect x="{x - 3.5:.1f}" y="{y - 3.5:.1f}" width="7" height="7"/>'
    if shape == "triangle":
        return _polygon([(x, y - 4.5), (x + 4.5, y + 3.5), (x - 4.5, y + 3.5)])
    return _polygon([(x, y - 5), (x + 5, y), (x, y + 5), (x - 5, y)])


def _polygon(corners: list[tuple[float, float]]) -> str:
    return '<path d="M' + " L".join(f"{cx:.1f},{cy:.1f}" for cx, cy in corners) + ' Z"/>'


def _legend() -> str:
    parts = ['<g aria-hidden="true">']
    slot = WIDTH / len(_SERIES)
    base = HEIGHT - 14
    for index, series in enumerate(_SERIES):
        x = 16 + slot * index
        parts.append(
            f'<g stroke="{series.colour}" fill="{series.colour}">'
            f'<line x1="{x:.1f}" y1="{base}" x2="{x + 28:.1f}" y2="{base}" stroke-width="2" '
            f'stroke-dasharray="{series.dashes}"/>{_marker(series.marker, x + 14, base)}</g>'
            f'<text x="{x + 36:.1f}" y="{base + 4}">{series.label}</text>'
        )
    parts.append("</g>")
    return "".join(parts)


def _description(points: list[TrendPoint]) -> str:
    if not points:
        return "No runs yet."
    first, last = points[0], points[-1]
    runs = f"{len(points)} runs" if len(points) > 1 else "1 run"
    return (
        f"{runs} from {first.started_at.date().isoformat()} to "
        f"{last.started_at.date().isoformat()}. In the latest run: {last.open} open (including "
        f"{last.new} new), {last.fixed} fixed and {last.suppressed} suppressed; the first run "
        f"had {first.open} open."
    )
