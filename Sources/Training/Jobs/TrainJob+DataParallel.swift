import Foundation
import ImageIO

extension TrainJob {
    /// The recipe's `lr`, times the number of processes under `lr_scaling: linear` in a data-parallel run.
    var effectiveLR: Double {
        guard let group = DataParallel.group, recipe.lrScaling == .linear else { return recipe.lr }
        return recipe.lr * Double(group.size)
    }

    /// The run header's line about the processes, the global batch and the learning rate.
    func dataParallelSummary(_ group: DataParallelGroup) -> String {
        let lr = recipe.lrScaling == .linear
            ? "lr \(recipe.lr) x \(group.size) = \(effectiveLR) (lr_scaling: linear)"
            : "lr \(recipe.lr), not scaled (lr_scaling: none)"
        return "mpi     \(group.size) ranks; global batch \(recipe.batchSize) (about \(recipe.batchSize / group.size) per rank); \(lr)"
    }

    /// Refuses to start when the ranks see different training sets (a folder copied incompletely to
    /// one node, another class list): every rank hashes its sample list and the hashes must agree.
    func checkSameData(_ train: ImageFolderDataset, group: DataParallelGroup) throws {
        let mine = Self.sampleListHash(train)
        let all = group.allGather(mine)
        if let other = all.firstIndex(where: { $0 != all[0] }) {
            // One line, from rank 0, which then ends the job; the others wait for that.
            if group.rank != 0 { _ = group.allGather(0) }
            throw JobError("\(recipe.data): rank \(other) sees other training images than rank 0 "
                           + "(sample-list hash \(String(all[0], radix: 16)) on rank 0 with \(train.count) files, "
                           + "\(String(all[other], radix: 16)) on rank \(other)): give every rank the same data folder")
        }
    }

    /// FNV-1a over each sample's path relative to the data root, its label and its file size.
    static func sampleListHash(_ d: ImageFolderDataset) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ s: String) { for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 } }
        let root = d.root.standardizedFileURL.path
        for s in d.samples {
            let path = s.file.standardizedFileURL.path
            let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? -1
            mix(path.hasPrefix(root) ? String(path.dropFirst(root.count)) : path)
            mix("\t\(s.label)\t\(size)\n")
        }
        return h
    }
}
