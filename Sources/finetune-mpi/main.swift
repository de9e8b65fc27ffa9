import Distributed
import FinetuneCLI
import Foundation
import Training

// `mpirun -np N finetune-mpi ...`: finetune's command line, training data-parallel over MPI_COMM_WORLD.
// The contained weight reader's child (this binary again) must never start MPI: it exits in here.
Finetune.prepareWeightReading()
if let group = MPIGroup.start() {
    if group.size > 1 { DataParallel.group = group }
    atexit { MPIGroup.finish() }
}
Finetune.main()
