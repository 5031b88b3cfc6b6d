"""Plan sync over ZeroMQ (CurveZMQ): threads, no GUI; results reach the app through callbacks."""
