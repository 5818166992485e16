"""Causal-graph machinery for the Corr2Cause task: DAGs up to isomorphism, Markov equivalence."""
