"""The step catalogue (DESIGN §1): one module per step type, its authoring half (config
schema, validation, simulation); the execution half is the engine's (apps.engine.step_types)."""
