"""How a kernel reduces over observations, like torch's losses: the one list of choices."""

REDUCTIONS = ("mean", "sum", "none")
