#!/bin/bash
# Regenerates the committed Swift code of proto/*.proto with protoc (Debian's protobuf-compiler) and
# protoc-gen-swift built from the swift-protobuf version Package.resolved pins. CI does not run this.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v protoc >/dev/null || { echo "protoc not found: apt-get install protobuf-compiler" >&2; exit 1; }
swift package resolve
swift build -c release --package-path .build/checkouts/swift-protobuf --product protoc-gen-swift
plugin=.build/checkouts/swift-protobuf/.build/release/protoc-gen-swift
protoc --plugin=protoc-gen-swift="$plugin" --swift_opt=Visibility=Public --swift_out=Sources/Training/TensorBoard \
  --proto_path=proto proto/tensorboard_event.proto
mv Sources/Training/TensorBoard/tensorboard_event.pb.swift Sources/Training/TensorBoard/TensorBoardEvent.pb.swift
echo "wrote Sources/Training/TensorBoard/TensorBoardEvent.pb.swift"
