"""Framework integrations: one module each, importing its framework lazily."""
