// WeightIO module
