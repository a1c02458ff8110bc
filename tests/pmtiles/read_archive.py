"""Reads a PMTiles archive with the Protomaps project's own Python reader (PyPI `pmtiles`) and
prints what it holds as JSON: the header, the metadata, and every tile as [z, x, y, sha256 of
the decompressed tile, its size]. Also fetches three tiles by address (`Reader.get`), as a map
client does, and checks they are the ones the directory walk found.

    python read_archive.py ARCHIVE.pmtiles
"""

import gzip
import hashlib
import json
import sys

from pmtiles.reader import Compression, MmapSource, Reader, all_tiles

with open(sys.argv[1], "rb") as f:
    source = MmapSource(f)
    reader = Reader(source)
    header = reader.header()
    metadata = reader.metadata()

    def plain(data):
        return gzip.decompress(data) if header["tile_compression"] == Compression.GZIP else data

    tiles = []
    by_address = {}
    for (z, x, y), data in all_tiles(source):
        raw = plain(data)
        digest = hashlib.sha256(raw).hexdigest()
        tiles.append([z, x, y, digest, len(raw)])
        by_address[(z, x, y)] = digest
    for z, x, y, digest, _ in tiles[:: max(1, len(tiles) // 3)][:3]:
        assert hashlib.sha256(plain(reader.get(z, x, y))).hexdigest() == digest, (z, x, y)

    out = {k: (v.name if hasattr(v, "name") else v) for k, v in header.items()}
    json.dump({"header": out, "metadata": metadata, "tiles": tiles}, sys.stdout)
