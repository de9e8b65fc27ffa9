import TensorCore
print("graft-bench: kernel benchmarks (coming)")
