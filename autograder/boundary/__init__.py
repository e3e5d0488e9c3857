"""Student code behind a process boundary: the worker, its channel and codec, the notebook loader, its confinement."""
