"""axiomatic: Ray-distributed hyperparameter studies for axiomatic training."""
