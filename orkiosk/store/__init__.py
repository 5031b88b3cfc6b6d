"""On-disk plan store of the kiosk: atomic commit, history, audit log."""
