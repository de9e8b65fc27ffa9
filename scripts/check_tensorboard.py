"""Reads a Graft --tensorboard folder back with TensorBoard's own event reader (PyPI `tensorboard`),
which checks every record's CRC, and prints the scalar and image tags it finds.

usage: python scripts/check_tensorboard.py DIR [--expect-epochs N]
Exits 1 when TensorBoard reads no scalars, or not N steps of loss/train.
"""
import argparse
import sys

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

ap = argparse.ArgumentParser()
ap.add_argument("folder")
ap.add_argument("--expect-epochs", type=int)
args = ap.parse_args()

acc = EventAccumulator(args.folder, size_guidance={"scalars": 0, "images": 0})
acc.Reload()
tags = acc.Tags()
print("scalars:", ", ".join(sorted(tags["scalars"])))
print("images:", ", ".join(sorted(tags["images"])))
for tag in sorted(tags["scalars"]):
    events = acc.Scalars(tag)
    print(f"  {tag}: " + " ".join(f"{e.step}:{e.value:.4g}" for e in events))
for tag in sorted(tags["images"]):
    for e in acc.Images(tag):
        print(f"  {tag}: step {e.step}, {e.width}x{e.height}, {len(e.encoded_image_string)} bytes PNG")
if not tags["scalars"]:
    sys.exit("no scalars read")
if args.expect_epochs is not None and len(acc.Scalars("loss/train")) != args.expect_epochs:
    sys.exit(f"expected {args.expect_epochs} steps of loss/train")
