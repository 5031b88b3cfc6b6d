"""Kivy kiosk app: the only layer that imports kivy."""
