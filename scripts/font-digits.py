#!/usr/bin/env python3
"""Build a "digits written in handwriting fonts" evaluation set in MNIST form.

For every .ttf/.otf file of the Debian handwriting-font packages below (found with dpkg -L), each
digit 0-9 is rendered in a fixed grid of variants (4 size/weight settings x 3 rotations x 3 shears,
plus a small seeded jitter), black ink on white at ~96 px, and converted to MNIST form the way MNIST
was made:

  1. invert to white ink on black (0 background, 255 ink),
  2. crop to the ink bounding box,
  3. scale to fit a 20x20 box keeping the aspect ratio, anti-aliased (Pillow LANCZOS),
  4. paste into 28x28 so the centre of mass lands on (14,14) (shift rounded to whole pixels),
  5. uint8.

Glyphs that come out empty, or that are the font's .notdef box (the font lacks the digit), are
skipped. Output (default OUT=/tmp/font-digits):

  OUT/fonts-images-idx3-ubyte.gz, OUT/fonts-labels-idx1-ubyte.gz   all fonts
  OUT/per-font/NAME-images-idx3-ubyte.gz, NAME-labels-idx1-ubyte.gz one pair per font file
  OUT/fonts-sample.png                                             one row per font, one column per digit
  OUT/fonts-index.tsv                                              index, label, font, variant of every image

Everything is deterministic (fixed seed, sorted font list); the same fonts give byte-identical files.
"""

import argparse
import gzip
import math
import os
import random
import struct
import subprocess
import sys
import zlib

import numpy as np
from PIL import Image, ImageDraw, ImageFont

PACKAGES = [
    "fonts-dkg-handwriting",
    "fonts-breip",
    "fonts-bwht",
    "fonts-dancingscript",
    "fonts-comic-neue",
    "fonts-ecolier-court",
]

# (font size in px, extra stroke width in px): two sizes, and heavier strokes at ~96 px.
WEIGHTS = [(72, 0), (96, 0), (96, 3), (120, 6)]
ROTATIONS = [-8.0, 0.0, 8.0]  # degrees, counter-clockwise
SHEARS = [-0.15, 0.0, 0.15]   # horizontal shear; positive slants like italics (top to the right)
JITTER_DEG = 1.5              # seeded uniform jitter added to each rotation
JITTER_SHEAR = 0.03           # seeded uniform jitter added to each shear
CANVAS = 256                  # render canvas (px); large enough that rotated/sheared glyphs never clip


def font_files(packages):
    files = []
    for pkg in packages:
        try:
            out = subprocess.run(["dpkg", "-L", pkg], check=True, capture_output=True, text=True).stdout
        except (subprocess.CalledProcessError, FileNotFoundError) as e:
            print(f"font-digits: warning: cannot list package {pkg}: {e}", file=sys.stderr)
            continue
        for line in out.splitlines():
            if line.lower().endswith((".ttf", ".otf")) and os.path.isfile(line):
                files.append((pkg, line))
    return sorted(set(files))


def font_name(path):
    return os.path.splitext(os.path.basename(path))[0]


def render(font, ch, stroke):
    """Black ink on white, glyph centred on a CANVAS x CANVAS grayscale image."""
    img = Image.new("L", (CANVAS, CANVAS), 255)
    draw = ImageDraw.Draw(img)
    draw.text((CANVAS // 2, CANVAS // 2), ch, font=font, fill=0, anchor="mm",
              stroke_width=stroke, stroke_fill=0)
    return img


def transform(img, angle_deg, shear):
    """Shear about the canvas centre, then rotate by angle_deg (counter-clockwise); white fill."""
    c = CANVAS / 2.0
    if shear != 0.0:
        # Image.transform maps output (x, y) -> input (a x + b y + cx, d x + e y + f).
        img = img.transform(img.size, Image.Transform.AFFINE,
                            (1.0, shear, -shear * c, 0.0, 1.0, 0.0),
                            resample=Image.Resampling.BICUBIC, fillcolor=255)
    if angle_deg != 0.0:
        img = img.rotate(angle_deg, resample=Image.Resampling.BICUBIC, center=(c, c), fillcolor=255)
    return img


def to_mnist(black_on_white):
    """MNIST normalisation; returns a 28x28 uint8 array (ink 255 on 0) or None if the glyph is empty."""
    a = 255 - np.asarray(black_on_white, dtype=np.uint8)      # 1. invert: ink 255, background 0
    a = np.where(a < 8, 0, a).astype(np.uint8)                # drop faint resampling haze
    ys, xs = np.nonzero(a)
    if len(xs) == 0:
        return None
    a = a[ys.min():ys.max() + 1, xs.min():xs.max() + 1]       # 2. crop to the ink bounding box
    h, w = a.shape
    s = 20.0 / max(h, w)                                      # 3. fit 20x20, keep aspect ratio
    nw, nh = max(1, int(round(w * s))), max(1, int(round(h * s)))
    small = np.asarray(Image.fromarray(a).resize((nw, nh), Image.Resampling.LANCZOS), dtype=np.float64)
    total = small.sum()
    if total <= 0:
        return None
    # 4. centre of mass -> (14,14): place the box at (x0, y0) with x0 + cx = 14, rounded.
    yy, xx = np.mgrid[0:nh, 0:nw]
    cy, cx = (yy * small).sum() / total, (xx * small).sum() / total
    x0, y0 = int(round(14.0 - cx)), int(round(14.0 - cy))
    x0, y0 = min(max(x0, 0), 28 - nw), min(max(y0, 0), 28 - nh)  # never push ink out of the frame
    out = np.zeros((28, 28), dtype=np.uint8)
    out[y0:y0 + nh, x0:x0 + nw] = np.clip(np.rint(small), 0, 255).astype(np.uint8)  # 5. uint8
    return out


def glyph_missing(font, ch):
    """True if the font has no glyph for ch: it draws nothing, or the same thing as a private-use
    code point no font defines (the .notdef box)."""
    try:
        m = np.asarray(render(font, ch, 0))
        n = np.asarray(render(font, "\U000F0000", 0))
    except Exception:
        return True
    return m.min() == 255 or np.array_equal(m, n)


def write_idx(path_images, path_labels, images, labels):
    n = len(images)
    with gzip.GzipFile(path_images, "wb", mtime=0) as f:          # mtime=0: reproducible bytes
        f.write(struct.pack(">IIII", 0x00000803, n, 28, 28))
        for im in images:
            f.write(im.tobytes())
    with gzip.GzipFile(path_labels, "wb", mtime=0) as f:
        f.write(struct.pack(">II", 0x00000801, n))
        f.write(bytes(labels))


def sample_sheet(path, rows, scale=3):
    """rows: list of (name, [28x28 array or None] * 10). One row per font, digits 0-9 across."""
    label_w, cell, pad = 190, 28 * scale, 2
    W = label_w + 10 * (cell + pad)
    H = len(rows) * (cell + pad) + pad
    sheet = Image.new("L", (W, H), 64)
    draw = ImageDraw.Draw(sheet)
    try:
        lf = ImageFont.load_default(size=13)
    except TypeError:
        lf = ImageFont.load_default()
    for r, (name, cells) in enumerate(rows):
        y = pad + r * (cell + pad)
        draw.text((4, y + cell // 2), name, fill=255, font=lf, anchor="lm")
        for d, a in enumerate(cells):
            x = label_w + d * (cell + pad)
            if a is None:
                draw.rectangle([x, y, x + cell - 1, y + cell - 1], fill=128)
            else:
                sheet.paste(Image.fromarray(a).resize((cell, cell), Image.Resampling.NEAREST), (x, y))
    sheet.save(path, optimize=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="/tmp/font-digits", help="output directory (default /tmp/font-digits)")
    ap.add_argument("--seed", type=int, default=20261125, help="seed for the jitter and the sample picks")
    args = ap.parse_args()

    fonts = font_files(PACKAGES)
    if not fonts:
        sys.exit("font-digits: no .ttf/.otf files found; run scripts/font-digits.sh to install the packages")
    names = [font_name(p) for _, p in fonts]
    if len(set(names)) != len(names):
        names = [f"{pkg}-{font_name(p)}" for pkg, p in fonts]

    os.makedirs(os.path.join(args.out, "per-font"), exist_ok=True)
    all_images, all_labels, index, rows = [], [], [], []
    print(f"{'font':<28} {'package':<22} images  skipped digits")
    for (pkg, path), name in zip(fonts, names):
        images, labels, skipped = [], [], []
        per_digit = {d: [] for d in range(10)}
        for d in range(10):
            ch = str(d)
            for size, stroke in WEIGHTS:
                font = ImageFont.truetype(path, size)
                if glyph_missing(font, ch):
                    if d not in skipped:
                        skipped.append(d)
                    continue
                base = render(font, ch, stroke)
                for angle in ROTATIONS:
                    for shear in SHEARS:
                        # Per-image RNG keyed by a stable hash of (seed, font, digit, variant).
                        key = f"{args.seed}|{name}|{d}|{size}|{stroke}|{angle}|{shear}"
                        rng = random.Random(zlib.crc32(key.encode()))
                        a = angle + rng.uniform(-JITTER_DEG, JITTER_DEG)
                        s = shear + rng.uniform(-JITTER_SHEAR, JITTER_SHEAR)
                        m = to_mnist(transform(base, a, s))
                        if m is None:
                            continue
                        images.append(m)
                        labels.append(d)
                        per_digit[d].append(m)
                        index.append((len(all_images) + len(images) - 1, d, name,
                                      f"size={size} stroke={stroke} rot={a:+.2f} shear={s:+.3f}"))
        if images:
            write_idx(os.path.join(args.out, "per-font", f"{name}-images-idx3-ubyte.gz"),
                      os.path.join(args.out, "per-font", f"{name}-labels-idx1-ubyte.gz"), images, labels)
        all_images += images
        all_labels += labels
        pick = random.Random(zlib.crc32(f"{args.seed}|sample|{name}".encode()))
        rows.append((name, [pick.choice(per_digit[d]) if per_digit[d] else None for d in range(10)]))
        print(f"{name:<28} {pkg:<22} {len(images):6d}  {','.join(map(str, skipped)) or '-'}")

    write_idx(os.path.join(args.out, "fonts-images-idx3-ubyte.gz"),
              os.path.join(args.out, "fonts-labels-idx1-ubyte.gz"), all_images, all_labels)
    with open(os.path.join(args.out, "fonts-index.tsv"), "w") as f:
        f.write("index\tlabel\tfont\tvariant\n")
        for i, d, name, v in index:
            f.write(f"{i}\t{d}\t{name}\t{v}\n")
    sample_sheet(os.path.join(args.out, "fonts-sample.png"), rows)
    counts = np.bincount(np.array(all_labels, dtype=np.int64), minlength=10)
    print(f"total {len(all_images)} images from {len(fonts)} font files; per digit " +
          " ".join(f"{d}:{c}" for d, c in enumerate(counts)))
    print(f"wrote {args.out}/fonts-images-idx3-ubyte.gz, fonts-labels-idx1-ubyte.gz, fonts-sample.png, "
          f"fonts-index.tsv, per-font/")


if __name__ == "__main__":
    main()
