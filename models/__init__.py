"""One adapter per ML engine, behind the interfaces in core.interfaces; heavy imports are lazy."""
