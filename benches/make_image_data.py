#!/usr/bin/env python3
"""Writes a large synthetic image set for the loading benchmarks of
BENCHMARKS.md ("Image bytes"): ROWS 28×28 grey images of 10 classes as an
IDX pair (images-idx3-ubyte: u8 pixels; labels-idx1-ubyte: u8 labels), the
format of MNIST. Each class is a blurred random template; an image is its
class's template, shifted by up to 2 pixels, plus noise, clipped to 0..255.

    python3 benches/make_image_data.py /tmp/img 200000
"""
import os
import struct
import sys

import numpy as np


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "img"
    rows = int(sys.argv[2]) if len(sys.argv) > 2 else 200_000
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(11)
    side, classes = 28, 10
    t = rng.random((classes, side, side)) ** 4 * 255.0
    for _ in range(2):  # blur
        t = (t + np.roll(t, 1, 1) + np.roll(t, -1, 1) + np.roll(t, 1, 2) + np.roll(t, -1, 2)) / 5
    t *= 255.0 / t.max()
    y = rng.integers(0, classes, size=rows).astype(np.uint8)
    with open(os.path.join(out, "images-idx3-ubyte"), "wb") as f:
        f.write(struct.pack(">HBBIII", 0, 8, 3, rows, side, side))
        step = 20_000
        for start in range(0, rows, step):
            ys = y[start:start + step]
            img = t[ys]
            dx, dy = rng.integers(-2, 3, size=2)
            img = np.roll(np.roll(img, dx, 1), dy, 2)
            img = img + rng.normal(0.0, 40.0, size=img.shape)
            f.write(np.clip(img, 0, 255).astype(np.uint8).tobytes())
    with open(os.path.join(out, "labels-idx1-ubyte"), "wb") as f:
        f.write(struct.pack(">HBBI", 0, 8, 1, rows))
        f.write(y.tobytes())
    print(f"{rows} images of {side}x{side} -> {out}/images-idx3-ubyte, labels-idx1-ubyte")


if __name__ == "__main__":
    main()
