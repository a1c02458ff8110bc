"""Writes N synthetic parcels as GeoJSON text sequence (one Feature per line) to stdout.

For scripts/bench-scale. Standard library only. The parcels are synthetic: a square grid of
25 m cells centred on Obanazawa, each cell one convex polygon of 4 to 7 vertices with jitter, and
four attributes (地番, 大字, 地目, 地積). 10,000,000 parcels cover about 79 km x 79 km, the scale of
a prefecture's towns.

    python3 scripts/load/synthetic_parcels.py N > parcels.geojsonl
"""

import math
import random
import sys

CELL_M = 25.0
CENTRE = (140.405, 38.601)
OAZA = [f"合成大字{i:02d}" for i in range(60)]
CHIMOKU = ["宅地", "田", "畑", "山林", "原野", "雑種地", "公衆用道路"]


def main() -> None:
    n = int(sys.argv[1])
    side = math.ceil(math.sqrt(n))
    m_per_deg_lat = 111_320.0
    m_per_deg_lon = m_per_deg_lat * math.cos(math.radians(CENTRE[1]))
    west = CENTRE[0] - side * CELL_M / 2 / m_per_deg_lon
    south = CENTRE[1] - side * CELL_M / 2 / m_per_deg_lat
    rnd = random.Random(20)
    out = sys.stdout
    write = out.write
    for i in range(n):
        row, col = divmod(i, side)
        cx = (col + 0.5) * CELL_M
        cy = (row + 0.5) * CELL_M
        k = rnd.randint(4, 7)
        start = rnd.random() * math.tau
        pts = []
        for j in range(k):
            a = start + j * math.tau / k
            r = CELL_M * (0.36 + 0.1 * rnd.random())
            x = cx + r * math.cos(a)
            y = cy + r * math.sin(a)
            pts.append(f"[{west + x / m_per_deg_lon:.7f},{south + y / m_per_deg_lat:.7f}]")
        pts.append(pts[0])
        area = round(CELL_M * CELL_M * (0.3 + 0.3 * rnd.random()), 2)
        write(
            '{"type":"Feature","properties":{"chiban":"%d-%d","oaza":"%s","chimoku":"%s","area_m2":%s},'
            '"geometry":{"type":"Polygon","coordinates":[[%s]]}}\n'
            % (i // 7 + 1, i % 7 + 1, OAZA[(row // 40 + col // 40) % len(OAZA)], CHIMOKU[rnd.randrange(len(CHIMOKU))],
               area, ",".join(pts))
        )


if __name__ == "__main__":
    main()
