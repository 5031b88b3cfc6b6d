"""`orkiosk bench`: the project's benchmarks. Each returns rows made by orkiosk.plan.bench.row."""
