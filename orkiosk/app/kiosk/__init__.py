"""The OR kiosk (`orkiosk run`): the App and its wiring (`app`), the screen (`screen`, `rail`),
plan intake from a folder, a control socket or the hub (`intake`, `syncui`, `syncrun`), loading,
resume, the watchdog and the fail screen. Read-only: nothing here edits a plan."""
