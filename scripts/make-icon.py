"""Draws images/icon.png (128x128): a loss-landscape contour with a descent path, in pure Python."""
import math, struct, zlib

W = H = 128
def pixel(x, y):
    u, v = (x - 64) / 40.0, (y - 70) / 34.0
    f = u * u + 2.2 * v * v + 0.35 * math.sin(3 * u) * math.cos(2 * v)
    bg = (24, 28, 44)
    level = f * 4
    if abs(level - round(level)) < 0.09 and f < 2.6:
        t = min(1.0, f / 2.6)
        return (int(80 + 150 * (1 - t)), int(200 - 90 * t), int(255 - 60 * t))
    # descent path: a curve from the top-left to the minimum
    for k in range(60):
        s = k / 59
        px = 18 + (64 - 18) * s + 10 * math.sin(6 * s) * (1 - s)
        py = 20 + (70 - 20) * s
        if (x - px) ** 2 + (y - py) ** 2 < 5:
            return (255, 176, 59)
    if (x - 64) ** 2 + (y - 70) ** 2 < 20:
        return (255, 90, 90)
    return bg

rows = b''.join(b'\x00' + bytes(c for x in range(W) for c in pixel(x, y)) for y in range(H))
def chunk(tag, data):
    return struct.pack('>I', len(data)) + tag + data + struct.pack('>I', zlib.crc32(tag + data) & 0xffffffff)
png = b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', W, H, 8, 2, 0, 0, 0)) + chunk(b'IDAT', zlib.compress(rows, 9)) + chunk(b'IEND', b'')
open('images/icon.png', 'wb').write(png)
