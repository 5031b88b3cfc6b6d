"""The planning station's DICOM node: studies arrive from the hospital's archive (a Storage SCP
that accepts only the senders it is told to, and writes every instance durably before it says
so), and the node knows when a series is complete. Network DICOM is pynetdicom; nothing here
imports the GUI, GL or ZeroMQ."""
