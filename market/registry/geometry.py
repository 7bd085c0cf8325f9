"""GeoJSON boundaries (WGS84 Polygon/MultiPolygon): validation and the overlap rule.

Areas for the overlap ratio are computed in a local equal-area frame (longitudes scaled by the
cosine of the mean latitude): both shapes lie in the same place, so the ratio is what matters.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from shapely import affinity
from shapely.errors import GEOSException
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from shapely.validation import explain_validity

from market.registry.errors import InvalidBoundary

OVERLAP_THRESHOLD = 0.005  # intersection > 0.5% of either area refuses confirmation
MAX_VERTICES = 100_000


@dataclass(frozen=True, slots=True)
class Boundary:
    geometry: BaseGeometry
    bbox: tuple[float, float, float, float]  # min_lon, min_lat, max_lon, max_lat


def _count_positions(coordinates: Any, depth: int) -> int:
    if depth == 0:
        return 1
    if not isinstance(coordinates, list):
        raise InvalidBoundary("boundary coordinates are malformed")
    return sum(_count_positions(c, depth - 1) for c in coordinates)


def parse_boundary(geojson: dict[str, Any]) -> Boundary:
    """Validate a GeoJSON Polygon or MultiPolygon in WGS84; raise InvalidBoundary (422)."""
    kind = geojson.get("type")
    if kind not in ("Polygon", "MultiPolygon"):
        raise InvalidBoundary("boundary must be a GeoJSON Polygon or MultiPolygon")
    coordinates = geojson.get("coordinates")
    if not isinstance(coordinates, list) or not coordinates:
        raise InvalidBoundary("boundary.coordinates must be a non-empty array")
    if _count_positions(coordinates, 3 if kind == "Polygon" else 4) > MAX_VERTICES:
        raise InvalidBoundary(f"boundary has more than {MAX_VERTICES} positions")
    polygons = [coordinates] if kind == "Polygon" else coordinates
    for polygon in polygons:
        for ring in polygon if isinstance(polygon, list) else []:
            if not isinstance(ring, list) or len(ring) < 4 or ring[0] != ring[-1]:
                raise InvalidBoundary(
                    "every linear ring needs at least 4 positions and must be closed (RFC 7946)"
                )
    try:
        geometry = shape({"type": kind, "coordinates": coordinates})
    except (GEOSException, ValueError, TypeError, IndexError, AttributeError) as exc:
        raise InvalidBoundary(f"boundary is not a valid {kind}: {exc}") from exc
    if geometry.is_empty:
        raise InvalidBoundary("boundary is empty")
    min_lon, min_lat, max_lon, max_lat = geometry.bounds
    if not all(math.isfinite(v) for v in geometry.bounds):
        raise InvalidBoundary("boundary coordinates must be finite numbers")
    if min_lon < -180 or max_lon > 180 or min_lat < -90 or max_lat > 90:
        raise InvalidBoundary("boundary coordinates must be WGS84 longitude/latitude")
    if not geometry.is_valid:
        raise InvalidBoundary(f"boundary is not a valid polygon: {explain_validity(geometry)}")
    if geometry.area <= 0:
        raise InvalidBoundary("boundary has no area")
    return Boundary(geometry, (min_lon, min_lat, max_lon, max_lat))


def _equal_area(geometry: BaseGeometry, mean_lat: float) -> BaseGeometry:
    return affinity.scale(
        geometry, xfact=math.cos(math.radians(mean_lat)), yfact=1.0, origin=(0, 0)
    )


def overlap_ratio(a: BaseGeometry, b: BaseGeometry) -> float:
    """The intersection's share of the smaller of the two areas (the 'either' in DOMAIN.md)."""
    if not a.intersects(b):
        return 0.0
    mean_lat = (a.centroid.y + b.centroid.y) / 2
    pa, pb = _equal_area(a, mean_lat), _equal_area(b, mean_lat)
    shared = pa.intersection(pb).area
    smaller = min(pa.area, pb.area)
    return shared / smaller if smaller > 0 else 0.0


def overlaps_too_much(a: BaseGeometry, b: BaseGeometry) -> bool:
    return overlap_ratio(a, b) > OVERLAP_THRESHOLD
