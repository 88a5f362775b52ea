"""``reid-pipeline review truth ...``: make and check hand-labelled ground truth of a video."""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

from reid_pipeline.lib.footage.demo import VTEST_PATH

FRAMES_HELP = "1-based frames as first:last:step (default 6:786:10: every 10th frame, off the 1, 11, 21 cadence)"


def parse_frames(spec: str) -> list[int]:
    from reid_pipeline.lib.evaluation.labelling import label_frames

    parts = spec.split(":")
    if len(parts) != 3 or not all(p.strip().isdigit() for p in parts):
        raise ValueError(f"--frames {spec!r} is not first:last:step, e.g. 6:786:10")
    first, last, step = (int(p) for p in parts)
    return label_frames(first, last, step)


def cmd_propose(args: argparse.Namespace) -> int:
    """Motion proposals (background subtraction, never a detector) to start labelling from."""
    from reid_pipeline.lib.evaluation.labelling import motion_proposals, write_labels

    boxes = motion_proposals(Path(args.video), parse_frames(args.frames))
    write_labels(Path(args.out), boxes)
    print(f"{args.out}: {len(boxes)} motion proposals (id 0, conf 0): number, tighten, split and add by eye")
    return 0


def cmd_draw(args: argparse.Namespace) -> int:
    """Frames with a pixel grid and the numbered boxes; optionally ruled zoom views of each quarter."""
    import cv2

    from reid_pipeline.lib.evaluation.labelling import draw_boxes, read_frames, read_labels, zoom_view

    boxes = read_labels(Path(args.labels))
    frames = parse_frames(args.frames) if args.frames else sorted({b.frame for b in boxes})
    by_frame = defaultdict(list)
    for b in boxes:
        by_frame[b.frame].append(b)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for frame, image in sorted(read_frames(Path(args.video), frames).items()):
        cv2.imwrite(str(out / f"frame_{frame:04d}.png"), draw_boxes(image, by_frame[frame]))
        if args.zoom:
            height, width = image.shape[:2]
            half_w, half_h = width // 2, height // 2
            for row in range(2):
                for col in range(2):
                    # Quarters overlap by 40 px so a person on a seam is whole in one of them.
                    region = (
                        col * half_w - 40 * col,
                        row * half_h - 40 * row,
                        (col + 1) * half_w + 40 * (1 - col),
                        (row + 1) * half_h + 40 * (1 - row),
                    )
                    view = zoom_view(image, region, by_frame[frame], scale=args.zoom)
                    cv2.imwrite(str(out / f"frame_{frame:04d}_q{row}{col}.png"), view)
    print(f"{len(frames)} frames drawn into {out}")
    return 0


def cmd_zoom(args: argparse.Namespace) -> int:
    """One ruled, magnified view around a region or around one person's box, to read edges to the pixel."""
    import cv2

    from reid_pipeline.lib.evaluation.labelling import read_frames, read_labels, zoom_view

    boxes = [b for b in read_labels(Path(args.labels)) if b.frame == args.frame] if args.labels else []
    if args.region:
        x1, y1, x2, y2 = (int(v) for v in args.region.split(","))
    else:
        target = [b for b in boxes if b.person == args.id]
        if not target:
            raise ValueError(f"frame {args.frame} has no box with id {args.id} in {args.labels}")
        x1, y1, x2, y2 = target[0].xyxy
        x1, y1, x2, y2 = x1 - args.margin, y1 - args.margin, x2 + args.margin, y2 + args.margin
    image = read_frames(Path(args.video), [args.frame])[args.frame]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out), zoom_view(image, (x1, y1, x2, y2), boxes, scale=args.scale))
    print(out)
    return 0


def cmd_strips(args: argparse.Namespace) -> int:
    """One identity strip per person: every box of that person in frame order, to check the numbering."""
    import cv2

    from reid_pipeline.lib.evaluation.labelling import identity_strip, read_frames, read_labels

    boxes = [b for b in read_labels(Path(args.labels)) if b.person > 0]
    images = read_frames(Path(args.video), {b.frame for b in boxes})
    people: dict[int, list] = defaultdict(list)
    for b in boxes:
        people[b.person].append(b)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for person, own in sorted(people.items()):
        cv2.imwrite(str(out / f"person_{person:03d}.png"), identity_strip(images, own))
    print(f"{len(people)} identity strips in {out}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    """Report boxes off the frame, outside the labelled frames, or numbered twice in one frame."""
    from reid_pipeline.lib.evaluation.labelling import check_labels, read_frames, read_labels

    boxes = read_labels(Path(args.labels))
    frames = parse_frames(args.frames)
    height, width = read_frames(Path(args.video), frames[:1])[frames[0]].shape[:2]
    problems = check_labels(boxes, frames, width, height)
    for problem in problems:
        print(problem)
    labelled = {b.frame for b in boxes}
    empty = [f for f in frames if f not in labelled]
    people = {b.person for b in boxes if b.conf}
    print(
        f"{len(boxes)} boxes, {len(people)} people, {len(labelled)} of {len(frames)} frames labelled"
        f"{' (no boxes on ' + ', '.join(map(str, empty[:10])) + ')' if empty else ''}; {len(problems)} problems"
    )
    return 1 if problems else 0


def cmd_merge(args: argparse.Namespace) -> int:
    """Join separately labelled stretches (part_*.txt) into one ground truth, people numbered throughout."""
    from reid_pipeline.lib.evaluation.labelling import merge_parts, read_identities, read_labels, write_labels

    parts = sorted(Path(args.parts).glob("part_*.txt"))
    if not parts:
        raise FileNotFoundError(f"no part_*.txt label files in {args.parts}")
    merged = merge_parts([read_labels(p) for p in parts], read_identities(Path(args.identities)))
    write_labels(Path(args.out), merged)
    people = len({b.person for b in merged})
    print(f"{args.out}: {len(merged)} boxes of {people} people from {len(parts)} parts")
    return 0


def add_truth_parser(verbs: argparse._SubParsersAction) -> None:
    """Register ``review truth``: these tools need no settings, only the video and the label file."""
    truth = verbs.add_parser("truth", help="make and check hand-labelled ground truth (MOTChallenge boxes)")
    steps = truth.add_subparsers(dest="step", required=True)

    def step(name: str, help_text: str, labels: bool = True) -> argparse.ArgumentParser:
        parser = steps.add_parser(name, help=help_text)
        parser.add_argument("--video", default=str(VTEST_PATH), help="the labelled video (default: vtest.avi)")
        if labels:
            parser.add_argument("--labels", required=name != "zoom", help="MOTChallenge label file")
        return parser

    propose = step("propose", "motion proposals to start from (background subtraction)", labels=False)
    propose.add_argument("--frames", default="6:786:10", help=FRAMES_HELP)
    propose.add_argument("--out", required=True, help="label file to write")
    propose.set_defaults(func=cmd_propose)
    draw = step("draw", "frames with a pixel grid and numbered boxes")
    draw.add_argument("--frames", help=FRAMES_HELP + "; default: the frames the labels cover")
    draw.add_argument("--zoom", type=int, default=0, help="also write ruled quarter views magnified this much")
    draw.add_argument("--out", required=True, help="folder for frame_NNNN.png")
    draw.set_defaults(func=cmd_draw)
    zoom = step("zoom", "a ruled, magnified view of one region or one box")
    zoom.add_argument("--frame", type=int, required=True)
    zoom.add_argument("--id", type=int, help="centre on this person's box")
    zoom.add_argument("--region", help="x1,y1,x2,y2 instead of --id")
    zoom.add_argument("--margin", type=int, default=16, help="pixels around the box")
    zoom.add_argument("--scale", type=int, default=4)
    zoom.add_argument("--out", required=True, help="PNG to write")
    zoom.set_defaults(func=cmd_zoom)
    strips = step("strips", "one strip of crops per person, in frame order")
    strips.add_argument("--out", required=True, help="folder for person_NNN.png")
    strips.set_defaults(func=cmd_strips)
    merge = steps.add_parser("merge", help="join labelled stretches into one ground truth, people numbered throughout")
    merge.add_argument("--parts", required=True, help="folder of part_*.txt label files")
    merge.add_argument("--identities", required=True, help="CSV part_id,person[,label]: which part ids are one person")
    merge.add_argument("--out", required=True, help="MOTChallenge ground truth to write")
    merge.set_defaults(func=cmd_merge)
    check = step("check", "boxes off the frame, ids used twice, frames without boxes")
    check.add_argument("--frames", default="6:786:10", help=FRAMES_HELP)
    check.set_defaults(func=cmd_check)
