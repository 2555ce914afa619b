"""Analysis of a derivation beyond the loss: information (score, Hessian, Fisher), the best constant, KL divergences."""
