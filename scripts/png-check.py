#!/usr/bin/env python3
"""Checks that a PNG screenshot is not blank: decodes it with zlib alone (no Pillow) and
requires enough distinct colours and enough non-white pixels for rendered text and charts.

usage: png-check.py FILE.png [--min-colours N] [--min-ink FRACTION]
"""
import argparse
import struct
import sys
import zlib


def decode(path):
    """Returns (width, height, channels, rows of bytes) of an 8-bit RGB/RGBA/grey PNG."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path}: not a PNG file")
    pos, idat, header = 8, [], None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        pos += 12 + length
    width, height, depth, colour_type, _, _, interlace = header
    channels = {0: 1, 2: 3, 4: 2, 6: 4}.get(colour_type)
    if depth != 8 or channels is None or interlace != 0:
        raise ValueError(f"{path}: unsupported PNG (bit depth {depth}, colour type {colour_type}, interlace {interlace})")
    raw = zlib.decompress(b"".join(idat))
    stride = width * channels
    rows, previous = [], bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        if kind == 1:    # Sub
            for i in range(channels, stride):
                line[i] = (line[i] + line[i - channels]) & 0xFF
        elif kind == 2:  # Up
            line = bytearray((a + b) & 0xFF for a, b in zip(line, previous))
        elif kind == 3:  # Average
            for i in range(stride):
                left = line[i - channels] if i >= channels else 0
                line[i] = (line[i] + ((left + previous[i]) >> 1)) & 0xFF
        elif kind == 4:  # Paeth
            for i in range(stride):
                a = line[i - channels] if i >= channels else 0
                b = previous[i]
                c = previous[i - channels] if i >= channels else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        rows.append(bytes(line))
        previous = line
    return width, height, channels, rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("png")
    parser.add_argument("--min-colours", type=int, default=16)
    parser.add_argument("--min-ink", type=float, default=0.01, help="fraction of pixels that are not white")
    args = parser.parse_args()
    width, height, channels, rows = decode(args.png)
    colour_channels = min(channels, 3)
    colours, ink = set(), 0
    for row in rows:
        for x in range(0, width * channels, channels):
            pixel = row[x:x + colour_channels]
            colours.add(pixel)
            if min(pixel) < 240:
                ink += 1
    fraction = ink / (width * height)
    print(f"png-check: {args.png}: {width}x{height}, {len(colours)} distinct colours, {fraction:.1%} non-white pixels")
    if len(colours) < args.min_colours or fraction < args.min_ink:
        print(f"png-check: {args.png} looks blank (need at least {args.min_colours} colours and {args.min_ink:.1%} non-white)",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
