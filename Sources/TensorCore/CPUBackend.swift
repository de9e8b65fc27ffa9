import CBLAS

/// CPU backend: OpenBLAS sgemm and im2col/col2im, batch-parallel with single-threaded GEMMs per worker.
public struct CPUBackend: Backend {
    public init() {}

    public func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                     a: UnsafePointer<Float>, b: UnsafePointer<Float>, beta: Float, c: UnsafeMutablePointer<Float>) {
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(transA ? m : k), b, Int32(transB ? k : n),
                    beta, c, Int32(n))
    }

    public func conv2dForward(_ g: Conv2DGeometry, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                              bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>) {
        Im2colConv.forward(g, input: input, weight: weight, bias: bias, output: output, gemm: self)
    }

    public func conv2dBackwardData(_ g: Conv2DGeometry, dOutput: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                   dInput: UnsafeMutablePointer<Float>) {
        Im2colConv.backwardData(g, dOutput: dOutput, weight: weight, dInput: dInput, gemm: self)
    }

    public func conv2dBackwardWeights(_ g: Conv2DGeometry, input: UnsafePointer<Float>, dOutput: UnsafePointer<Float>,
                                      dWeight: UnsafeMutablePointer<Float>, dBias: UnsafeMutablePointer<Float>?) {
        Im2colConv.backwardWeights(g, input: input, dOutput: dOutput, dWeight: dWeight, dBias: dBias, gemm: self)
    }
}

/// Single-threaded OpenBLAS for use inside parallel workers (nested threading oversubscribes 2 cores).
public enum BLASThreads {
    public static func set(_ n: Int) { openblas_set_num_threads(Int32(n)) }
    public static var current: Int { Int(openblas_get_num_threads()) }
}
