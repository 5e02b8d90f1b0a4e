"""Design-space exploration on top of the engine (never inside it): sweep specs, points,
Dask execution, the Parquet result store, Optuna search and Pareto analysis.
See README.md, "Sweeps and search"."""
