"""The step catalogue (DESIGN §1): one module per step type, shared by authoring
(config schema, validation, simulation) and execution (start, on_event, stop)."""
