import FinetuneCLI

// The hidden `__read-weights` child reads one weight file and exits; otherwise weight files the
// user names will be read by such a child (see FinetuneCLI's WeightReading.swift).
Finetune.prepareWeightReading()
Finetune.main()
