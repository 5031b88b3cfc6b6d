"""orkiosk: carries a surgical plan from the planning workstation to the operating room."""

__version__ = "0.1.0"
