#!/usr/bin/env python3
"""Generated camera-like sequences for measuring `digitd run` (issue 4 figures).

  make:  a page from `digitd synth` moving slowly under a shaky hand-held camera, with brightness
         flicker, as a Y4M stream (4:2:0, 30 fps) plus the true boxes of every frame.
  score: per-frame precision/recall/F1 of `digitd run --emit frames` output against that truth,
         and label flips per digit: single frames versus the tracker (`--emit events`).

  digitd synth --out /tmp/live/pool --count 60
  scripts/live-sequence.py make --scenes /tmp/live/pool --scene scene-0004.png --frames 300 \
      --out /tmp/live/seq720.y4m --truth /tmp/live/seq720.truth.jsonl
  digitd run --headless --source /tmp/live/seq720.y4m --emit frames > /tmp/live/seq720.frames.jsonl
  digitd run --headless --source /tmp/live/seq720.y4m --emit events > /tmp/live/seq720.events.jsonl
  scripts/live-sequence.py score --truth /tmp/live/seq720.truth.jsonl \
      --frames /tmp/live/seq720.frames.jsonl --events /tmp/live/seq720.events.jsonl

Needs numpy and Pillow (python3-numpy, python3-pil).
"""
import argparse, json, math, random, sys

def iou(a, b):
    ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0

def make(args):
    import numpy as np
    from PIL import Image
    truth = {}
    for line in open(f"{args.scenes}/truth.jsonl"):
        row = json.loads(line)
        truth[row["source"]] = row
    page = np.asarray(Image.open(f"{args.scenes}/{args.scene}").convert("L"), dtype=np.float32)
    h, w = page.shape
    digits = truth[args.scene]["digits"]
    rng = random.Random(args.seed)
    border = float(np.median(page[:4, :]))
    chroma = bytes([128]) * (2 * ((w + 1) // 2) * ((h + 1) // 2))
    with open(args.out, "wb") as y4m, open(args.truth, "w") as out:
        y4m.write(f"YUV4MPEG2 W{w} H{h} F30:1 Ip A1:1 C420jpeg\n".encode())
        shake_x = shake_y = 0.0
        for t in range(args.frames):
            # Slow drift (a page pushed across the desk), a hand's low-frequency sway, and shake.
            shake_x = 0.7 * shake_x + rng.gauss(0, 1.2)
            shake_y = 0.7 * shake_y + rng.gauss(0, 1.2)
            dx = int(round(0.08 * t + 6 * math.sin(2 * math.pi * t / 90) + shake_x))
            dy = int(round(4 * math.sin(2 * math.pi * t / 130 + 1) + shake_y))
            gain = 1.0 + 0.12 * math.sin(2 * math.pi * t / 45) + rng.uniform(-0.06, 0.06)   # flicker
            frame = np.full((h, w), border, dtype=np.float32)
            ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
            xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
            frame[yd, xd] = page[ys, xs]
            frame = np.clip(frame * gain + rng.gauss(0, 2), 0, 255).astype(np.uint8)
            y4m.write(b"FRAME\n" + frame.tobytes() + chroma)
            boxes = []
            for k, d in enumerate(digits):
                x, y, bw, bh = d["box"]
                b = [x + dx, y + dy, bw, bh]
                if b[0] >= 0 and b[1] >= 0 and b[0] + bw <= w and b[1] + bh <= h:
                    boxes.append({"id": k, "box": b, "digit": d["digit"]})
            out.write(json.dumps({"frame": t, "digits": boxes}) + "\n")
    print(f"{args.out}: {args.frames} frames {w}x{h}, {len(digits)} digits", file=sys.stderr)

def score(args):
    """Per-frame F1 of the frame lines, and how often the label shown for each true digit changes.

    A "label change" is any change of what a reader would see for one true digit from one frame to
    the next: a different digit, or the digit vanishing or coming back. Single frames: taken from
    the frame lines. Tracker: from the events (appeared, changed, gone), minus the first appearance
    and the gone events at the end of the stream.
    """
    truth = {r["frame"]: r["digits"] for r in map(json.loads, open(args.truth))}
    last_frame = max(truth)
    tp = fp = fn = 0
    shown = {}   # truth id -> label per frame in view (digit or None)
    frames = [json.loads(l) for l in open(args.frames)]
    for f in frames:
        gold = truth[f["frame"]]
        dets = f["detections"]
        pairs = sorted(((iou(d["box"], g["box"]), i, j) for i, d in enumerate(dets) for j, g in enumerate(gold)), reverse=True)
        used_d, used_g, correct = set(), set(), 0
        label = {}
        for o, i, j in pairs:
            if o < 0.5 or i in used_d or j in used_g:
                continue
            used_d.add(i); used_g.add(j)
            label[j] = dets[i]["digit"]
            if dets[i]["digit"] == gold[j]["digit"]:
                correct += 1
        for j, g in enumerate(gold):
            shown.setdefault(g["id"], []).append(label.get(j))
        tp += correct; fp += len(dets) - correct; fn += len(gold) - correct
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    def changes(seq):
        return sum(1 for a, b in zip(seq, seq[1:]) if a != b)
    single = {k: changes(v) for k, v in shown.items()}
    wrong_digit = {k: changes([x for x in v if x is not None]) for k, v in shown.items()}
    result = {"frames": len(frames), "precision": round(p, 4), "recall": round(r, 4), "f1": round(f1, 4),
              "true_digits": len(shown),
              "single_frame_label_changes_per_digit": round(sum(single.values()) / max(1, len(shown)), 2),
              "single_frame_digit_flips_per_digit": round(sum(wrong_digit.values()) / max(1, len(shown)), 2)}
    if args.events:
        events = [json.loads(l) for l in open(args.events)]
        per_digit = {}
        first_seen = set()
        unmatched = wrong = flips = 0
        track_digit = {}
        for e in events:
            gold = truth.get(min(e["frame"], last_frame), [])
            best = max(gold, key=lambda g: iou(g["box"], e["box"]), default=None)
            if e["event"] == "appeared":
                if best is None or iou(best["box"], e["box"]) < 0.5:
                    unmatched += 1
                    continue
                track_digit[e["track"]] = best["id"]
            k = track_digit.get(e["track"])
            if k is None:
                continue
            if e["event"] == "changed":
                flips += 1
            if e["event"] in ("appeared", "changed") and e["digit"] != next(g["digit"] for g in sum(truth.values(), []) if g["id"] == k):
                wrong += 1
            if e["event"] == "appeared" and k not in first_seen:
                first_seen.add(k)
                continue
            if e["event"] == "gone" and e["frame"] > last_frame:
                continue
            per_digit[k] = per_digit.get(k, 0) + 1
        result.update({
            "tracks": sum(1 for e in events if e["event"] == "appeared"),
            "tracks_not_on_a_true_digit": unmatched,
            "true_digits_tracked": len(first_seen),
            "tracker_label_changes_per_digit": round(sum(per_digit.values()) / max(1, len(shown)), 2),
            "tracker_digit_flips_per_digit": round(flips / max(1, len(shown)), 2),
            "tracker_wrong_labels": wrong,
        })
    print(json.dumps(result))

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    m = sub.add_parser("make")
    m.add_argument("--scenes", required=True); m.add_argument("--scene", required=True)
    m.add_argument("--frames", type=int, default=300); m.add_argument("--seed", type=int, default=7)
    m.add_argument("--out", required=True); m.add_argument("--truth", required=True)
    s = sub.add_parser("score")
    s.add_argument("--truth", required=True); s.add_argument("--frames", required=True); s.add_argument("--events")
    args = ap.parse_args()
    make(args) if args.command == "make" else score(args)

if __name__ == "__main__":
    main()
