"""Plan editing for the planner's workbench and `orkiosk edit`: operations on a plan, version
rules and validation, undo and redo, the clearance index and entry map that the workbench reads
out while a path is dragged, and saving a new signed version that reuses the package's files.
Kivy-free, GL-free and network-free: plan/, numpy and scipy only."""
