#!/usr/bin/env python3
"""Score digitd on generated pages changed in ways `digitd synth` does not draw.

`digitd synth --out` writes pages and their truth; this script changes every page (a camera's
motion blur, a stronger defocus, low contrast, overexposure, salt-and-pepper specks, the glare
of a flash), reads the
changed pages with `digitd scan --json`, and scores them as `synth --score` does: a hit is a
detection with the right digit and IoU >= 0.5 with a true digit's box. The changes keep every
digit where it was, so the truth still holds. A quick look outside the generator's defaults,
not a benchmark: 120 pages by default.

  python3 scripts/probe-variants.py [--digitd .build/release/digitd] [--count 120] [--seed 700001]
                                    [--variants none,motion,defocus,lowcontrast,overexpose,speckle,glare]

Needs numpy and Pillow (python3 -m pip install numpy pillow).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image, ImageFilter


def none(a):
    return a


def motion(a):
    """Horizontal motion blur over about 1/180 of the width (7 px at 1280)."""
    k = max(3, a.shape[1] // 180)
    out = np.zeros_like(a)
    for i in range(k):
        out += np.roll(a, i - k // 2, axis=1)
    return out / k


def defocus(a):
    """Gaussian blur, sigma 1.6 px at 640 wide (3.2 at 1280): more than the generator's box blurs."""
    im = Image.fromarray(a.clip(0, 255).astype(np.uint8))
    return np.asarray(im.filter(ImageFilter.GaussianBlur(a.shape[1] / 640 * 1.6)), dtype=np.float32)


def lowcontrast(a):
    """Everything 0.45 times as far from the median: faint pencil on grey paper."""
    m = np.median(a)
    return m + (a - m) * 0.45


def overexpose(a):
    """1.5 times brighter plus 20, clipped: the paper and light ink burn out."""
    return a * 1.5 + 20


def speckle(a):
    """1 % of the pixels black and 1 % white (a scanner's dust, a damaged sensor)."""
    rng = np.random.default_rng(0)
    b = a.copy()
    r = rng.random(a.shape)
    b[r < 0.01] = 0
    b[r > 0.99] = 255
    return b


def glare(a):
    """A flash's reflection on glossy paper: a bright spot (Gaussian, sigma 1/10 of the width,
    +150 levels at its centre, clipped) somewhere on each page, and a second weaker one."""
    h, w = a.shape
    rng = np.random.default_rng(int(a.sum()) % (2**32))
    yy, xx = np.mgrid[0:h, 0:w]
    out = a.copy()
    for strength in (150, 80):
        cx, cy, sigma = rng.uniform(0.2, 0.8) * w, rng.uniform(0.2, 0.8) * h, w / 10
        out = out + strength * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * sigma ** 2))
    return out


def iou(a, b):
    ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    i = ix * iy
    return i / (a[2] * a[3] + b[2] * b[3] - i)


def score(digitd, base, truth, name, change, work):
    out_dir = os.path.join(work, name)
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    for t in truth:
        a = np.asarray(Image.open(os.path.join(base, t["source"])).convert("L"), dtype=np.float32)
        b = np.clip(change(a), 0, 255).round().astype(np.uint8)
        p = os.path.join(out_dir, t["source"])
        Image.fromarray(b).save(p)
        paths.append(p)
    run = subprocess.run([digitd, "scan", "--json"] + paths, capture_output=True, text=True)
    readings = {}
    for line in run.stdout.splitlines():
        r = json.loads(line)
        readings[os.path.basename(r["source"])] = r
    tp = fp = fn = 0
    for t in truth:
        detections = readings.get(t["source"], {}).get("detections", [])
        used = set()
        for d in t["digits"]:
            hit = next((k for k, e in enumerate(detections)
                        if k not in used and e["digit"] == d["digit"] and iou(e["box"], d["box"]) >= 0.5), None)
            if hit is None:
                fn += 1
            else:
                used.add(hit)
                tp += 1
        fp += len(detections) - len(used)
    p = tp / max(1, tp + fp)
    r = tp / max(1, tp + fn)
    f1 = 2 * p * r / max(1e-9, p + r)
    print(f"{name:12s} F1 {f1:.4f}  precision {p:.4f}  recall {r:.4f}  ({tp} hits, {fp} false, {fn} missed)", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--digitd", default=".build/release/digitd")
    ap.add_argument("--count", type=int, default=120)
    ap.add_argument("--seed", type=int, default=700001)
    ap.add_argument("--variants", default="none,motion,defocus,lowcontrast,overexpose,speckle,glare")
    args = ap.parse_args()
    changes = {f.__name__: f for f in (none, motion, defocus, lowcontrast, overexpose, speckle, glare)}
    names = args.variants.split(",")
    for n in names:
        if n not in changes:
            sys.exit(f"error: unknown variant '{n}' (known: {', '.join(changes)})")
    with tempfile.TemporaryDirectory() as work:
        base = os.path.join(work, "pages")
        subprocess.run([args.digitd, "synth", "--out", base, "--count", str(args.count), "--seed", str(args.seed)],
                       check=True, stdout=subprocess.DEVNULL)
        truth = [json.loads(l) for l in open(os.path.join(base, "truth.jsonl"))]
        for n in names:
            score(args.digitd, base, truth, n, changes[n], work)


if __name__ == "__main__":
    main()
