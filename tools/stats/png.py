#!/usr/bin/env python3
"""Minimal PNG reading and writing with the standard library (zlib), for checking screenshots of
report.html without Pillow: decode to RGB rows, measure ink, crop to tiles.

usage: png.py info FILE.png
       png.py crop FILE.png OUT.png TOP HEIGHT     (full width, rows TOP..TOP+HEIGHT)
"""
import struct
import sys
import zlib


def read(path):
    """(width, height, rows) with rows as bytearrays of RGB triples (alpha dropped)."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path}: not a PNG")
    pos, idat, width = 8, [], None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if depth != 8 or color not in (2, 6) or interlace != 0:
                raise ValueError(f"{path}: only 8-bit RGB/RGBA non-interlaced PNGs are supported")
            channels = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    raw = zlib.decompress(b"".join(idat))
    stride = width * channels
    rows, prev = [], bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        ftype = raw[start]
        line = bytearray(raw[start + 1:start + 1 + stride])
        bpp = channels
        if ftype == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 0xFF
        elif ftype == 2:
            for i in range(stride):
                line[i] = (line[i] + prev[i]) & 0xFF
        elif ftype == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xFF
        elif ftype == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b = prev[i]
                c = prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 0xFF
        prev = line
        if channels == 4:
            rgb = bytearray(width * 3)
            rgb[0::3], rgb[1::3], rgb[2::3] = line[0::4], line[1::4], line[2::4]
            rows.append(rgb)
        else:
            rows.append(line)
    return width, height, rows


def write(path, width, rows):
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    raw = b"".join(b"\x00" + bytes(r) for r in rows)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", width, len(rows), 8, 2, 0, 0, 0)))
        f.write(chunk(b"IDAT", zlib.compress(raw, 6)))
        f.write(chunk(b"IEND", b""))


def ink(rows, threshold=235):
    """Share of pixels that are not near-white, and the number of distinct colours (sampled)."""
    dark, total, colours = 0, 0, set()
    for y in range(0, len(rows), 2):
        r = rows[y]
        for x in range(0, len(r) // 3, 2):
            px = (r[3 * x], r[3 * x + 1], r[3 * x + 2])
            total += 1
            if min(px) < threshold:
                dark += 1
            if len(colours) < 4096:
                colours.add(px)
    return dark / max(1, total), len(colours)


def main(argv):
    if len(argv) >= 3 and argv[1] == "info":
        w, h, rows = read(argv[2])
        share, colours = ink(rows)
        print(f"{argv[2]}: {w}x{h}, {share:.1%} non-white, {colours} colours")
    elif len(argv) == 6 and argv[1] == "crop":
        w, h, rows = read(argv[2])
        top, height = int(argv[4]), int(argv[5])
        write(argv[3], w, rows[top:top + height])
    else:
        print(__doc__, file=sys.stderr)
        return 64
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
