#!/usr/bin/env bash
# Builds the libFuzzer targets into .build-fuzz/ and runs each on a seed corpus generated here: the IDX and CIFAR-10
# readers, the safetensors reader, a checkpoint's metadata fields (behind valid checksums) and the model-spec parsers.
# Usage: Fuzz/run.sh [seconds | -runs=N]   (default 30 seconds per target)
# swiftc directly, not `swift build`: SwiftPM renames an executable's entry point and the libFuzzer link fails.
set -euo pipefail
cd "$(dirname "$0")/.."
limit="${1:-30}"
[[ "$limit" == -runs=* ]] || limit="-max_total_time=$limit"
out=.build-fuzz
export SWIFT_BACKTRACE=enable=no  # let libFuzzer, not Swift's slow backtracer, handle a crash and save the input
mkdir -p "$out"

# The library with only the backend protocols (the readers never run kernels, whose files need the kernel
# modules), and stubs for what the rest names from those files.
sources="$(find Sources/Dendrite -name '*.swift' ! -path '*/Backend/*')
    $(printf 'Sources/Dendrite/Backend/%s.swift ' Activation Backend ConvolutionProducts {Convolution,Data,Elementwise,GEMM,Loss,Optimizer,Regularization}Kernels)
    Fuzz/KernelStubs.swift"
clang -O1 -g -fsanitize=address -c Sources/CStopSignal/stop_signal.c -I Sources/CStopSignal/include -o "$out/stop_signal.o"
build() {  # name, entry file
    swiftc -O -g -sanitize=fuzzer,address -parse-as-library -module-name Dendrite \
        -I Sources/CZlib -I Sources/CStopSignal/include -lz $sources "$out/stop_signal.o" "Fuzz/$2" -o "$out/$1" 2>&1 \
        | { grep -v "Cannot export local symbol" || true; }
}
build fuzz-idx IDXFuzz.swift
build fuzz-cifar CIFAR10Fuzz.swift
build fuzz-safetensors SafetensorsFuzz.swift
build fuzz-metadata CheckpointMetadataFuzz.swift
build fuzz-model ModelSpecFuzz.swift

# Seeds: a small valid idx3 file, the same gzipped, an idx1 file, a CIFAR-10 batch of one record (the longest
# input is 4096 bytes) and one of three gzipped, a valid checkpoint-like safetensors file, and
# the metadata and model seeds below.
rm -rf "$out/seeds" && mkdir -p "$out/seeds/idx" "$out/seeds/cifar" "$out/seeds/safetensors" "$out/seeds/metadata" "$out/seeds/model"
python3 - "$out/seeds" <<'PY'
import gzip, json, struct, sys, zlib
seeds = sys.argv[1]
idx3 = struct.pack(">I3I", 0x803, 2, 3, 3) + bytes(range(18))
open(f"{seeds}/idx/images", "wb").write(idx3)
open(f"{seeds}/idx/images.gz", "wb").write(gzip.compress(idx3, mtime=0))
open(f"{seeds}/idx/labels", "wb").write(struct.pack(">II", 0x801, 3) + bytes([0, 1, 2]))
records = [bytes([label]) + bytes((label + i) % 256 for i in range(3 * 32 * 32)) for label in (3, 0, 9)]
open(f"{seeds}/cifar/batch", "wb").write(records[0])
open(f"{seeds}/cifar/batch.gz", "wb").write(gzip.compress(b"".join(records), mtime=0))
data = struct.pack("<6f", 1, -2, 3.5, 0, 1e30, -1e-30) + struct.pack("<3f", 0.25, 0.5, 0.75)
config = {"activation": "relu", "backend": "c", "batchSize": 2, "classes": 3, "epochs": 1, "hidden": [2],
          "initializer": "normal", "inputs": 3, "learningRate": 0.001, "momentum": 0, "optimizer": "adam",
          "seed": 1, "threads": 1}
tensors = {"layers.1.weight": ([3, 2], 0, 24), "layers.1.bias": ([3], 24, 36)}
metadata = {"format": "dendrite-checkpoint-1", "configuration": json.dumps(config),
            "epoch": "0", "batch": "1", "step": "1", "generator_state": "1,2,3,4"}
# The checksums as Safetensors.swift documents them: per tensor (name, dtype, shape, data), and the metadata's.
metadata_crc = zlib.crc32(b"".join(k.encode() + b"\0" + v.encode() + b"\0" for k, v in sorted(metadata.items())))
for name, (shape, begin, end) in tensors.items():
    described = name.encode() + b"\0F32\0" + ",".join(map(str, shape)).encode() + b"\0"
    metadata["dendrite.crc32." + name] = str(zlib.crc32(data[begin:end], zlib.crc32(described)))
metadata["dendrite.crc32.__metadata__"] = str(metadata_crc)
header = {"__metadata__": metadata}
header.update({name: {"dtype": "F32", "shape": shape, "data_offsets": [begin, end]}
               for name, (shape, begin, end) in tensors.items()})
text = json.dumps(header, separators=(",", ":")).encode()
text += b" " * (-len(text) % 8)
open(f"{seeds}/safetensors/checkpoint", "wb").write(struct.pack("<Q", len(text)) + text + data)
# The metadata target's fields, 0-separated: configuration, epoch, batch, step, generator state (not the
# seed's, so the position check goes as far as that); the model of the configuration, as text and as JSON.
layers = [{"initializer": "normal", "type": "dense", "units": 2}, {"type": "relu"},
          {"initializer": "glorot", "type": "dense", "units": 3}]
config = {"backend": "c", "batchSize": 4, "classes": 3, "epochs": 1, "inputShape": [2, 2, 1], "learningRate": 0.001,
          "model": {"format": "dendrite-model-1", "layers": layers}, "momentum": 0, "optimizer": "adam", "seed": 1, "threads": 1}
open(f"{seeds}/metadata/fields", "wb").write(b"\0".join([json.dumps(config).encode(), b"1", b"2", b"5", b"1,2,3,4"]))
open(f"{seeds}/model/text", "w").write("dense 256, relu, dense 256, leaky-relu 0.1, dense 10 init=glorot")
open(f"{seeds}/model/json", "w").write(json.dumps({"format": "dendrite-model-1", "layers": layers}))
PY

# Each target fuzzes a copy of its seeds (new finds go there, not into the seeds); crashes land in $out.
for target in idx cifar safetensors metadata model; do
    rm -rf "$out/corpus-$target" && cp -r "$out/seeds/$target" "$out/corpus-$target"
    echo "== fuzz-$target ($limit)"
    "$out/fuzz-$target" "$limit" -max_len=4096 -artifact_prefix="$out/crash-$target-" -print_final_stats=1 \
        "$out/corpus-$target" 2>&1 | grep -E '^(#|==|stat::number_of_executed_units|INFO: Seed|artifact_prefix|Test unit)|ERROR|SUMMARY' | tail -n 8
done
