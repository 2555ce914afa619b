"""Where users and scripts enter: the command line, benchmarks, plots, the book and site, accuracy measurement, catalog regeneration."""
