"""The model: constraints, links, the distributions (one file each, found by a registry), custom densities and their parser."""
