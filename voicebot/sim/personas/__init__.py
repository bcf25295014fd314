"""Simulated callees ("personas") for the loopback transport: tests, the demo and benchmarks
all dial the same scripted people, so what the demo shows is what the tests prove."""
